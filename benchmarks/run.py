"""``python -m benchmarks.run``: run every cell of a sweep in its own subprocess and write the report.

Examples::

    python -m benchmarks.run                      # the default sweep (≤ 10 min on 2 cores)
    python -m benchmarks.run --quick              # ≤ 90 s
    python -m benchmarks.run --backends numpy,torch --modes eager --models mnist,mlp:784-512-10:relu \
        --batch-sizes 32,256 --threads 1 --resume --out reports/

A cell that raises, crashes or passes ``--cell-timeout`` becomes an ``error`` row and the run goes on. Ctrl-C
stops the run, keeps every finished row and writes the report from them; ``--resume`` then runs only the cells
that have no ``ok`` row yet.
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
from .results import ResultStore
from .rounds import contender_rows, contenders, merge_round

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the ≤ 90 s configuration")
    parser.add_argument("--backends", help="comma list (default: every installed backend and reference loop)")
    parser.add_argument("--modes", help="comma list of backend:mode labels or plain mode names")
    parser.add_argument("--models", help="comma list of named models (xor, classifier, digits, mnist, wide) or "
                                         "mlp:784-256-256-10:relu strings")
    parser.add_argument("--batch-sizes", help="comma list of batch sizes")
    parser.add_argument("--threads", help="comma list of thread counts (default: 1 and all cores)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--repeats", type=int, help="timed blocks per cell (default 7; quick 3)")
    parser.add_argument("--cell-timeout", type=float, help="seconds before a cell is killed (default 180; quick 60)")
    parser.add_argument("--max-timed", type=float, help="per-cell budget for the timed blocks, seconds "
                                                        "(default 3; quick 0.5; at least 3 blocks always run)")
    parser.add_argument("--rounds", type=int, help="process rounds for the close contenders of the model tables "
                                                     "(default 3 within the sweep's time budget; quick 1)")
    parser.add_argument("--out", default="reports", help="output folder (default reports/)")
    parser.add_argument("--resume", action="store_true", help="skip cells that already have an ok row in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def _list(text: str | None, kind=str) -> list | None:
    return None if text is None else [kind(item.strip()) for item in text.split(",") if item.strip()]


def build_cells(args: argparse.Namespace) -> tuple[list[cell_plan.Cell], cell_plan.SweepConfig]:
    config = cell_plan.QUICK if args.quick else cell_plan.DEFAULT
    overrides = {"cell_timeout_s": args.cell_timeout, "max_timed_s": args.max_timed, "rounds": args.rounds}
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    pairs = cell_plan.labels(_list(args.backends), _list(args.modes))
    cells = cell_plan.plan(config, pairs, models=_list(args.models), batch_sizes=_list(args.batch_sizes, int),
                           threads=_list(args.threads, int), dtype=args.dtype, repeats=args.repeats)
    return cells, config


def run_child(cell: cell_plan.Cell, config: cell_plan.SweepConfig) -> dict:
    """Run ``cell`` in a fresh ``python -m benchmarks.child`` process group; always return a row."""
    payload = json.dumps({"cell": cell.to_dict(), "config": {"block_s": config.block_s,
                                                             "max_timed_s": config.max_timed_s,
                                                             "tta_epochs": config.tta_epochs}})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory(prefix="bench-cell-") as tmp:
        result_path = Path(tmp) / "row.json"
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "benchmarks.child", payload, str(result_path)], cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=config.cell_timeout_s)
        except subprocess.TimeoutExpired:
            _kill(proc)
            return {"status": "error", "error": f"timeout: killed after {config.cell_timeout_s:g} s",
                    "cell_wall_s": time.perf_counter() - start}
        except BaseException:
            _kill(proc)
            raise
        wall = time.perf_counter() - start
        if result_path.exists():
            return {**json.loads(result_path.read_text()), "cell_wall_s": wall}
        tail = output.decode(errors="replace").strip().splitlines()[-3:]
        return {"status": "error", "error": f"crashed: {_exit_reason(proc.returncode)}; {' | '.join(tail)}"[:500],
                "cell_wall_s": wall}


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()


def _exit_reason(code: int) -> str:
    if code < 0:
        return f"killed by signal {signal.Signals(-code).name}"
    return f"exit status {code}"


def complete_row(cell: cell_plan.Cell, result: dict, store: ResultStore) -> dict:
    """The cell's identity, its child's result and the derived figures (label, % of GEMM peak, hidden width)."""
    from .models import resolve_model

    row = {**cell.to_dict(), "label": f"{cell.backend}:{cell.mode}", **result}
    row.pop("spec", None)
    peak = store.gemm_peak(cell.threads)
    if cell.kind == "step" and peak and result.get("gflops"):
        row["pct_of_peak"] = 100.0 * float(result["gflops"]) / peak
    if cell.kind != "gemm":
        row["hidden_width"] = resolve_model(cell.model).hidden_width
    if cell.kind == "step" and result.get("status") == "ok":
        row.update(rounds=1, round_medians_s=repr(float(result["step_median_s"])))
    return row


def run_cells(cells: list[cell_plan.Cell], config: cell_plan.SweepConfig, store: ResultStore,
              progress: bool) -> None:
    for cell in _progress(cells, progress, "cells"):
        result = run_child(cell, config)
        curve = result.pop("curve", None)
        store.add(complete_row(cell, result, store), curve)


def run_rounds(cells: list[cell_plan.Cell], config: cell_plan.SweepConfig, store: ResultStore, started: float,
               progress: bool) -> None:
    """Rounds 2..``config.rounds`` for the contenders (:mod:`benchmarks.rounds`), one model row at a time: a row's
    contenders run again together, interleaved, when their last wall time still fits the budget, so every
    contender of a row has the same number of rounds; each result is merged into the cell's row."""
    rows = contender_rows(contenders(cells, store.rows))
    for number in range(2, config.rounds + 1):
        todo = []
        for row in rows:
            if time.perf_counter() - started + _stored_wall_s(store, [*todo, *row]) <= config.budget_s:
                todo += row
        for cell in _progress(todo, progress, f"round {number}"):
            result = run_child(cell, config)
            store.add(merge_round(store.row(cell.key), complete_row(cell, result, store)))


def _stored_wall_s(store: ResultStore, cells: list[cell_plan.Cell]) -> float:
    """The wall seconds the stored rows of ``cells`` took: the estimate of running them again."""
    return sum(float(store.row(cell.key)["cell_wall_s"]) for cell in cells)


def _progress(cells: list[cell_plan.Cell], progress: bool, title: str):
    from tqdm import tqdm

    bar = tqdm(cells, unit="cell", disable=not progress, dynamic_ncols=True, file=sys.stderr, desc=title)
    for cell in bar:
        bar.set_postfix_str(f"{cell.kind} {cell.backend}:{cell.mode} {cell.model} B={cell.batch_size} "
                            f"T={cell.threads}")
        yield cell


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    try:
        cells, config = build_cells(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    store = ResultStore(out, resume=args.resume)
    done = store.finished()
    todo = [cell for cell in cells if cell.key not in done]
    settings = {"threads": sorted({c.threads for c in cells}), "dtype": args.dtype, "quick": args.quick,
                "cells": len(cells), "skipped_by_resume": len(cells) - len(todo), "config": config.__dict__,
                "thread_controls": "env OMP/OPENBLAS/MKL/TF_NUM_*_THREADS, sched_setaffinity, threadpoolctl, "
                                   "torch.set_num_threads/interop, tf.config.threading, XLA eigen flag at 1"}
    environment.write(out / "environment.json", environment.capture(argv, settings))
    start = time.perf_counter()
    interrupted = False
    try:
        run_cells(todo, config, store, progress=not args.no_progress)
        run_rounds(cells, config, store, start, progress=not args.no_progress)
    except KeyboardInterrupt:
        interrupted = True
        print(f"\ninterrupted: {len(store.rows)} finished rows kept in {store.results_path}", file=sys.stderr)
    from .report import write_report

    summary = write_report(out)
    print(summary)
    print(f"\n{len(todo)} cells run in {time.perf_counter() - start:.1f} s; report in {out / 'benchmark.md'}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    raise SystemExit(main())
