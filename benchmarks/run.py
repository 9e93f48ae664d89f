"""``python -m benchmarks.run``: run every cell of a sweep in R fresh processes, round by round; write the report.

Each process is forked from a server that has imported its framework and run nothing (:mod:`benchmarks.forkserver`;
``--start spawn`` starts a new interpreter instead), so the imports are paid once per framework, not per process.

Examples::

    python -m benchmarks.run                      # the default sweep, R = 3 (--plan estimates its time)
    python -m benchmarks.run --plan               # what the default sweep will run, and its estimated time
    python -m benchmarks.run --sweep full         # every mode of every backend and every minimal loop
    python -m benchmarks.run --quick              # ≤ 90 s, R = 1
    python -m benchmarks.run --backends numpy,torch --modes eager --models mnist,mlp:784-512-10:relu,net.json \\
        --batch-sizes 32,256 --threads 1 --rounds 5 --resume --out reports/

A process that raises, crashes or passes ``--cell-timeout`` becomes an ``error`` process row and the run goes on.
Ctrl-C stops the run, keeps every finished process and writes the report from them; ``--resume`` then runs only
the (cell, round) pairs that have no ``ok`` process yet.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from . import cells as cell_plan
from . import environment
from .budget import plan_summary, plan_text
from .forkserver import ForkServers, Outcome, ServerError, kill_group
from .reference_loops import framework_of
from .results import ResultStore
from .schedule import Run, interleave, pending
from .sweeps import SWEEPS, SweepConfig

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep", choices=tuple(SWEEPS), default="default",
                        help="default (best modes, R = 3), full (every mode), quick (≤ 90 s, R = 1)")
    parser.add_argument("--quick", action="store_true", help="the same as --sweep quick")
    parser.add_argument("--plan", action="store_true", help="print the plan and its estimated time; run nothing")
    parser.add_argument("--backends", help="comma list of backends, minimal loops (torch-minimal, …) or sklearn; "
                                           "default: the sweep's own choice of labels")
    parser.add_argument("--modes", help="comma list of backend:mode labels or plain mode names")
    parser.add_argument("--models", help="comma list of named models (see benchmarks/models.py), "
                                         "mlp:784-256-256-10:relu strings or .json spec files")
    parser.add_argument("--batch-sizes", help="comma list of batch sizes")
    parser.add_argument("--threads", help="comma list of thread counts (default: all cores, plus 1 where the "
                                          "sweep asks for it)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--rounds", type=int, help="fresh processes per cell, R (default: the sweep's, 3; quick 1)")
    parser.add_argument("--repeats", type=int, help="timed blocks per process (default 7; quick 3)")
    parser.add_argument("--cell-timeout", type=float, help="seconds before a process is killed (default 180)")
    parser.add_argument("--max-timed", type=float, help="per-process budget for the timed blocks, seconds "
                                                        "(default 1; quick 0.5; at least 3 blocks always run)")
    parser.add_argument("--out", default="reports", help="output folder (default reports/)")
    parser.add_argument("--resume", action="store_true", help="skip (cell, round) pairs with an ok process in --out")
    parser.add_argument("--start", choices=("fork", "spawn"), default="fork",
                        help="how each fresh process starts: fork (default) from a server per framework that has "
                             "imported it and run nothing, or spawn, a new interpreter that imports it itself")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def _list(text: str | None, kind=str) -> list | None:
    return None if text is None else [kind(item.strip()) for item in text.split(",") if item.strip()]


def build_cells(args: argparse.Namespace) -> tuple[list[cell_plan.Cell], SweepConfig]:
    config = SWEEPS["quick" if args.quick else args.sweep]
    overrides = {"cell_timeout_s": args.cell_timeout, "max_timed_s": args.max_timed, "rounds": args.rounds}
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    if config.rounds < 1:
        raise ValueError(f"--rounds: expected an integer ≥ 1, got {config.rounds}")
    explicit = args.backends is not None or args.modes is not None
    selection = cell_plan.labels(_list(args.backends), _list(args.modes)) if explicit else None
    cells = cell_plan.plan(config, selection, models=_list(args.models), batch_sizes=_list(args.batch_sizes, int),
                           threads=_list(args.threads, int), dtype=args.dtype, repeats=args.repeats)
    return cells, config


def child_config(config: SweepConfig) -> dict:
    return {"block_s": config.block_s, "max_timed_s": config.max_timed_s,
            "public_epochs": config.public_epochs}


def child_env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def run_child(cell: cell_plan.Cell, config: SweepConfig, servers: ForkServers | None) -> dict:
    """Run one process of ``cell``, forked from its framework's server (``servers``) or, with None, in a new
    ``python -m benchmarks.child`` interpreter; always return a row."""
    payload = json.dumps({"cell": cell.to_dict(), "config": child_config(config)})
    with tempfile.TemporaryDirectory(prefix="bench-cell-") as tmp:
        result_path = Path(tmp) / "row.json"
        argv = [payload, str(result_path)]
        start = time.perf_counter()
        if servers is None:
            outcome = spawn(argv, config.cell_timeout_s)
        else:
            try:
                outcome = servers.run(framework_of(cell.backend), cell.threads, argv, Path(tmp) / "output.log",
                                      config.cell_timeout_s)
            except ServerError as exc:
                outcome = Outcome(1, str(exc))
        wall = time.perf_counter() - start
        if outcome.returncode is None:
            return {"status": "error", "error": f"timeout: killed after {config.cell_timeout_s:g} s",
                    "cell_wall_s": wall}
        if result_path.exists():
            return {**json.loads(result_path.read_text()), "cell_wall_s": wall}
        tail = outcome.output.strip().splitlines()[-3:]
        return {"status": "error", "error": f"crashed: {_exit_reason(outcome.returncode)}; {' | '.join(tail)}"[:500],
                "cell_wall_s": wall}


def spawn(argv: list[str], timeout: float) -> Outcome:
    """One process in a new interpreter and process group, killed with its group after ``timeout`` seconds."""
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.child", *argv], cwd=ROOT, env=child_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        return Outcome(None, "")
    except BaseException:
        _kill(proc)
        raise
    return Outcome(proc.returncode, output.decode(errors="replace"))


def _kill(proc: subprocess.Popen) -> None:
    kill_group(proc.pid)
    proc.communicate()


def _exit_reason(code: int) -> str:
    if code < 0:
        return f"killed by signal {signal.Signals(-code).name}"
    return f"exit status {code}"


def process_row(run: Run, result: dict) -> dict:
    """The process row: the cell's identity and round, its child's result, and the hidden width of its model."""
    from .models import hidden_width

    cell = run.cell
    row = {**cell.to_dict(), "label": cell.label, "round": run.round, **result}
    row.pop("spec", None)
    if cell.kind != "gemm":
        row["hidden_width"] = hidden_width(cell.spec)
    return row


def run_all(runs: list[Run], config: SweepConfig, store: ResultStore, progress: bool, start: str) -> None:
    """Run every process in order, each forked from a fork server (``start`` "fork") or in a new interpreter."""
    with tempfile.TemporaryDirectory(prefix="bench-servers-") as logs, \
            ForkServers(ROOT, child_env(), Path(logs)) as servers:
        for run in _progress(runs, progress):
            result = run_child(run.cell, config, servers if start == "fork" else None)
            curve = result.pop("curve", None)
            store.add(process_row(run, result), curve)


def _progress(runs: list[Run], progress: bool):
    from tqdm import tqdm

    bar = tqdm(runs, unit="process", disable=not progress, dynamic_ncols=True, file=sys.stderr)
    for run in bar:
        cell = run.cell
        bar.set_postfix_str(f"round {run.round} {cell.kind} {cell.label} {cell.model} B={cell.batch_size} "
                            f"T={cell.threads}")
        yield run


def main(argv: list[str] | None = None) -> int:
    command = environment.command_line(argv)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        cells, config = build_cells(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    estimate = plan_summary(cells, config, config.rounds, args.start)
    if args.plan:
        print(plan_text(estimate))
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    settings = {"sweep": config.name, "rounds": config.rounds, "threads": sorted({c.threads for c in cells}),
                "dtype": args.dtype, "cells": len(cells), "estimated_s": round(estimate["seconds"]),
                "config": config.__dict__, "process_start": args.start,
                "thread_controls": "env OMP/OPENBLAS/MKL/TF_NUM_*_THREADS, sched_setaffinity, threadpoolctl, "
                                   "torch.set_num_threads/interop, tf.config.threading, XLA eigen flag at 1"}
    record = environment.capture(command, settings, out)
    store = ResultStore(out, resume=args.resume)
    runs = pending(interleave(cells, config.rounds), store.finished())
    record["settings"]["processes_skipped_by_resume"] = len(cells) * config.rounds - len(runs)
    environment.write(out / "environment.json", record)
    start = time.perf_counter()
    interrupted = False
    try:
        run_all(runs, config, store, progress=not args.no_progress, start=args.start)
    except KeyboardInterrupt:
        interrupted = True
        print(f"\ninterrupted: {len(store.processes)} finished processes kept in {store.processes_path}",
              file=sys.stderr)
    elapsed = time.perf_counter() - start
    environment.write(out / "environment.json", environment.finish(record, out, elapsed, interrupted))
    from .report import write_report

    print(write_report(out))
    print(f"\n{len(runs)} processes run in {elapsed:.1f} s; report in {out / 'benchmark.md'}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    raise SystemExit(main())
