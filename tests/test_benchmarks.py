"""The benchmark harness: end to end on tiny configs (schema, report, rounds, fault isolation, resume, Ctrl-C,
threads) and its parts on synthetic data (the equal-rounds planner, the intervals, the tie rule, gc in timed
blocks, the sweep plans and their budget, provenance).

No timing assertions: every run uses the NumPy backend and the ``faulty`` backend of :mod:`tests.faulty_backend`,
and the statistics are checked on made-up block times.
"""

from __future__ import annotations

import csv
import gc
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks import cells as cell_plan
from benchmarks.aggregate import cell_row
from benchmarks.budget import plan_summary
from benchmarks.cells import Cell, labels, merge, plan
from benchmarks.environment import changed_paths, is_committed
from benchmarks.frames import load
from benchmarks.models import BenchModel, named_models, parse_mlp, resolve_model
from benchmarks.results import COLUMNS, ResultStore
from benchmarks.schedule import interleave, pending
from benchmarks.stats import cell_interval, rank, ratio_interval
from benchmarks.sweeps import DEFAULT, FULL, QUICK
from benchmarks.tables import ranked_table, verdict
from benchmarks.timing import measure

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = ["backend", "mode", "model", "batch_size", "threads", "dtype", "status", "error", "compile_s",
            "step_median_s", "step_iqr_s", "samples_per_s", "gflops", "pct_of_peak", "peak_rss_mb", "final_loss",
            "threads_verified", "rounds", "round_medians_s", "step_ci_low_s", "step_ci_high_s", "public_step_s"]
TINY = ["--quick", "--models", "xor", "--threads", "1", "--modes", "eager", "--no-progress", "--repeats", "3"]


def harness(out: Path, *args: str, fault: str = "none", backends: str = "numpy,faulty",
            wait: bool = True) -> subprocess.CompletedProcess | subprocess.Popen:
    env = {**os.environ, "BACKPROP_EXTRA_BACKENDS": "faulty=tests.faulty_backend", "BACKPROP_FAULT": fault,
           "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "benchmarks.run", "--out", str(out), "--backends", backends, *TINY, *args]
    if not wait:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def rows(out: Path, name: str = "results.csv") -> list[dict]:
    with open(out / name, newline="") as handle:
        return list(csv.DictReader(handle))


def by_backend(out: Path) -> dict[str, dict]:
    return {row["backend"]: row for row in rows(out) if row["kind"] == "step"}


# ----- end to end -------------------------------------------------------------------------------------------------

def test_tiny_run_writes_schema_report_summary_and_environment(tmp_path):
    result = harness(tmp_path, backends="numpy")
    assert result.returncode == 0, result.stderr
    table = rows(tmp_path)
    assert set(REQUIRED) <= set(table[0]) and list(table[0]) == COLUMNS
    assert {row["kind"] for row in table} == {"gemm", "step"}
    step = by_backend(tmp_path)["numpy"]
    assert step["status"] == "ok" and float(step["step_median_s"]) > 0 and float(step["final_loss"]) > 0
    assert float(step["pct_of_peak"]) > 0 and float(step["peak_rss_mb"]) > 0
    assert float(step["step_ci_low_s"]) <= float(step["step_median_s"]) <= float(step["step_ci_high_s"])
    assert float(step["public_step_s"]) > 0 and step["rounds"] == "1"
    report = (tmp_path / "benchmark.md").read_text()
    for heading in ("GEMM peak", "Train-step time", "public `model.train_step", "Final-loss agreement", "Compile",
                    "thread verification", "R = 1"):
        assert heading in report
    assert "## Benchmark results" in (tmp_path / "summary.md").read_text()
    environment = (tmp_path / "environment.json").read_text()
    assert "-m benchmarks.run" in environment and "--models xor" in environment and '"git_at_end"' in environment


def test_the_thread_setting_is_verified_in_the_child(tmp_path):
    assert harness(tmp_path, backends="numpy").returncode == 0
    step = by_backend(tmp_path)["numpy"]
    assert step["threads"] == "1" and step["affinity"] == "1" and step["framework_threads"] == "1"
    assert step["threads_verified"] == "True" and float(step["cpu_per_wall"]) <= 1.15


def test_every_cell_runs_in_r_interleaved_processes_and_reports_the_median_of_their_medians(tmp_path):
    assert harness(tmp_path, "--rounds", "3", backends="numpy").returncode == 0
    processes = rows(tmp_path, "processes.csv")
    assert [(row["kind"], row["round"]) for row in processes] == [
        ("gemm", "1"), ("step", "1"), ("gemm", "2"), ("step", "2"), ("gemm", "3"), ("step", "3")]
    step = by_backend(tmp_path)["numpy"]
    medians = [float(m) for m in step["round_medians_s"].split(";")]
    assert step["rounds"] == "3" and len(medians) == 3
    assert float(step["step_median_s"]) == pytest.approx(float(np.median(medians)))
    assert "every cell ran in 3 fresh process(es)" in (tmp_path / "benchmark.md").read_text()


@pytest.mark.fault
@pytest.mark.parametrize("start", ["fork", "spawn"])
@pytest.mark.parametrize("fault, reason", [("raise", "RuntimeError: faulty backend"),
                                           ("abort", "crashed: killed by signal SIGABRT"),
                                           ("hang", "timeout: killed after 5 s")])
def test_a_failing_cell_becomes_an_error_row_and_the_run_goes_on(tmp_path, fault, reason, start):
    result = harness(tmp_path, "--cell-timeout", "5", "--start", start, fault=fault)
    assert result.returncode == 0, result.stderr
    cells = by_backend(tmp_path)
    assert cells["numpy"]["status"] == "ok"
    assert cells["faulty"]["status"] == "error" and reason in cells["faulty"]["error"]
    assert "Cells with failed processes: 1" in (tmp_path / "benchmark.md").read_text()


@pytest.mark.fault
def test_resume_skips_finished_processes_and_reruns_failed_ones(tmp_path):
    assert harness(tmp_path, fault="raise").returncode == 0
    before = by_backend(tmp_path)
    result = harness(tmp_path, "--resume", fault="none")
    assert result.returncode == 0, result.stderr
    after = by_backend(tmp_path)
    assert after["numpy"]["cell_wall_s"] == before["numpy"]["cell_wall_s"]
    assert after["faulty"]["status"] == "ok" and after["faulty"]["error"] == ""
    assert "1 processes run" in result.stdout
    assert len(rows(tmp_path)) == 3 and len(rows(tmp_path, "processes.csv")) == 3


@pytest.mark.fault
def test_sigint_keeps_every_finished_row(tmp_path):
    proc = harness(tmp_path, "--cell-timeout", "60", fault="hang", wait=False)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (tmp_path / "results.csv").exists() or len(rows(tmp_path)) < 2:
        assert time.monotonic() < deadline, "the finished cells never appeared"
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert [row["status"] for row in rows(tmp_path)] == ["ok", "ok"]
    assert "interrupted" in (tmp_path / "benchmark.md").read_text()


# ----- timing -----------------------------------------------------------------------------------------------------

def test_garbage_collection_is_off_inside_timed_blocks_and_restored_after():
    seen: list[bool] = []

    def step() -> float:
        seen.append(gc.isenabled())
        time.sleep(0.001)
        return 1.0

    assert gc.isenabled()
    timing = measure(step, check_steps=3, block_s=0.003, repeats=3, max_timed_s=0.0)
    assert seen[:3] == [True, True, True] and not any(seen[3:]) and len(seen) > 3
    assert gc.isenabled() and timing.blocks == 3
    gc.disable()
    try:
        measure(step, check_steps=3, block_s=0.001, repeats=3, max_timed_s=0.0)
        assert not gc.isenabled()
    finally:
        gc.enable()


# ----- the equal-rounds planner and the sweeps ----------------------------------------------------------------------

def test_interleave_runs_every_cell_once_per_round_in_sweep_order_and_resume_skips_ok_processes():
    a, b, c = (Cell("step", "numpy", "eager", model, 4, 1) for model in ("xor", "classifier", "digits"))
    runs = interleave([a, b, c], 3)
    assert [(run.round, run.cell.model) for run in runs] == [
        (r, m) for r in (1, 2, 3) for m in ("xor", "classifier", "digits")]
    assert pending(runs, {(a.key, 1), (c.key, 2)}) == [run for run in runs if (run.cell.key, run.round) not in
                                                       {(a.key, 1), (c.key, 2)}]
    with pytest.raises(ValueError):
        interleave([a], 0)


def test_default_sweep_runs_every_table_cell_r_times_within_the_budget_with_forked_processes():
    """Forked from servers that imported each framework once, the default sweep fits 15 minutes; spawning a new
    interpreter for each of its processes would not."""
    assert plan_summary(plan(DEFAULT), DEFAULT, DEFAULT.rounds)["seconds"] <= 15 * 60
    assert plan_summary(plan(DEFAULT), DEFAULT, DEFAULT.rounds, how="spawn")["seconds"] > 20 * 60


def test_default_sweep_runs_every_table_cell_r_times_and_quick_within_its_budget():
    cells = plan(DEFAULT)
    summary = plan_summary(cells, DEFAULT, DEFAULT.rounds)
    assert DEFAULT.rounds == 3 and summary["processes"] == 3 * len(cells)
    counts: dict[tuple, int] = {}
    for run in interleave(cells, DEFAULT.rounds):
        counts[run.cell.key] = counts.get(run.cell.key, 0) + 1
    assert set(counts.values()) == {3}
    sweeps = {tag for cell in cells for tag in cell.sweep.split("+")}
    assert {"models", "batch", "width", "tta", "peak"} <= sweeps
    wide = {cell.label for cell in cells if cell.model == "wide"}
    assert wide == {"numpy:eager", "numpy:reference", "torch:eager", "tensorflow:xla", "jax:jit"}
    assert not any(cell.label == "numpy:reference" for cell in cells if cell.sweep in ("batch", "width"))
    mnist = {cell.label for cell in cells if cell.model == "mnist" and "models" in cell.sweep}
    assert {"torch-minimal:eager-fused", "tensorflow-minimal:xla", "jax-minimal:jit-donate"} <= mnist
    quick = plan(QUICK)
    assert QUICK.rounds == 1 and plan_summary(quick, QUICK, 1)["seconds"] <= 90


def test_a_designated_larger_model_gets_best_modes_by_default_and_every_mode_and_loop_in_full(monkeypatch):
    models = {**named_models(), "big": BenchModel("big", resolve_model("mlp:64-32-10:relu").spec, 16, large=True)}
    monkeypatch.setattr(cell_plan, "named_models", lambda: models)
    monkeypatch.setattr(cell_plan, "resolve_model", lambda name: models.get(name) or resolve_model(name))
    default = {cell.label for cell in plan(DEFAULT, models=["big"])}
    assert default == {"numpy:eager", "torch:eager", "tensorflow:xla", "jax:jit"} | {"numpy:sgemm"}
    full = {cell.label for cell in plan(FULL, models=["big"])}
    assert {"torch:compile", "tensorflow:function", "tensorflow:eager", "torch-minimal:compile",
            "torch-minimal:eager", "jax-minimal:jit", "tensorflow-minimal:function"} <= full


def test_labels_accept_backend_mode_and_plain_mode_names():
    pairs = labels(["numpy", "torch", "tensorflow"], ["compile", "tensorflow:eager", "numpy:eager"])
    assert pairs == [("numpy", "eager"), ("torch", "compile"), ("tensorflow", "eager")]
    assert labels(["jax-minimal"], None) == [("jax-minimal", "jit"), ("jax-minimal", "jit-donate")]
    with pytest.raises(ValueError, match="match no selected backend"):
        labels(["numpy"], ["xla"])
    with pytest.raises(ValueError, match="unknown backend"):
        labels(["nope"], None)


def test_custom_mlp_models_and_cell_deduplication():
    model = parse_mlp("mlp:784-256-256-10:relu")
    assert model.widths == [784, 256, 256, 10] and model.spec["loss"] == "cross_entropy"
    assert resolve_model("mlp:8-1").spec["layers"][-1]["activation"] == "sigmoid"
    cell = Cell("step", "numpy", "eager", "mnist", 64, 2, sweep="models")
    assert [c.sweep for c in merge([cell, Cell("step", "numpy", "eager", "mnist", 64, 2, sweep="batch")])] == [
        "models+batch"]
    cells = plan(QUICK, [("numpy", "eager")], threads=[1])
    assert len({c.key for c in cells}) == len(cells)


# ----- intervals and the tie rule on synthetic timings --------------------------------------------------------------

def synthetic(center: float, drifts: list[float], spread: float = 0.01, blocks: int = 7, seed: int = 0,
              rounds: list[int] | None = None) -> dict[int, np.ndarray]:
    """One process per drift factor: blocks around ``center · drift`` with a relative ``spread``."""
    rng = np.random.default_rng(seed)
    rounds = rounds or list(range(1, len(drifts) + 1))
    return {r: center * d * (1 + spread * rng.standard_normal(blocks)) for r, d in zip(rounds, drifts)}


def test_intervals_cover_the_true_ratio_and_pairing_by_round_removes_shared_drift():
    drifts = [1.0, 1.3, 0.9]
    fast, slow = synthetic(1.0, drifts, seed=1), synthetic(1.2, drifts, seed=2)
    cell = cell_interval(fast)
    assert cell.low <= cell.value <= cell.high and cell.low <= 0.95 and cell.high >= 1.25
    paired = ratio_interval(slow, fast)
    assert paired.low <= 1.2 <= paired.high and paired.excludes(1.0)
    unpaired = ratio_interval(synthetic(1.2, drifts, seed=2, rounds=[4, 5, 6]), fast)
    assert unpaired.low <= 1.2 <= unpaired.high and not unpaired.excludes(1.0)
    assert unpaired.high - unpaired.low > 3 * (paired.high - paired.low)
    one = ratio_interval({1: fast[1]}, {1: slow[1]})
    assert one.high < 1.0 and one.high - one.low < 0.05


def test_the_fastest_wins_only_when_every_interval_excludes_one_otherwise_the_row_is_a_tie():
    drifts = [1.0, 1.1, 0.95]
    clear = rank({"numpy:eager": synthetic(1.0, drifts, seed=1), "jax:jit": synthetic(1.4, drifts, seed=2),
                  "torch:eager": synthetic(5.0, drifts, seed=3)})
    assert clear.fastest == "numpy:eager" and clear.win and clear.tied == ("numpy:eager",)
    assert clear.runner_up == "jax:jit" and verdict(clear).startswith("numpy:eager wins (next jax:jit 1.")
    close = rank({"numpy:eager": synthetic(1.0, [1.0, 1.3, 0.9], seed=1),
                  "jax:jit": synthetic(1.03, [1.25, 0.92, 1.0], seed=2),
                  "torch:eager": synthetic(5.0, drifts, seed=3)})
    assert not close.win and set(close.tied) == {"numpy:eager", "jax:jit"}
    assert verdict(close).startswith("tie: ") and "torch:eager" not in verdict(close)


def test_a_cell_row_is_the_median_of_its_process_medians_with_its_interval_and_failures():
    processes = [{"kind": "step", "backend": "numpy", "mode": "eager", "label": "numpy:eager", "model": "xor",
                  "batch_size": "4", "threads": "1", "dtype": "float32", "round": r, "status": "ok",
                  "step_median_s": float(np.median(b)), "block_s": list(b), "flops_per_step": 100.0,
                  "threads_verified": True}
                 for r, b in synthetic(2e-5, [1.0, 1.5, 1.1], seed=4).items()]
    processes.append({**processes[0], "round": 4, "status": "error", "error": "RuntimeError: boom"})
    row = cell_row(processes)
    medians = [p["step_median_s"] for p in processes[:3]]
    assert row["status"] == "ok" and row["rounds"] == 3 and row["step_median_s"] == pytest.approx(np.median(medians))
    assert row["step_ci_low_s"] <= min(medians) * 1.02 and row["step_ci_high_s"] >= max(medians) * 0.98
    assert row["error"].startswith("1 of 4 processes failed: RuntimeError")
    assert row["samples_per_s"] == pytest.approx(4 / row["step_median_s"])


def test_report_tables_bold_only_a_win_and_name_the_tied_labels(tmp_path):
    store = ResultStore(tmp_path, resume=False)
    for model, centers in (("xor", {"numpy": 1.0, "jax": 1.5}), ("mnist", {"numpy": 1.0, "jax": 1.02})):
        for backend, center in centers.items():
            drifts = [1.0, 1.2, 0.9] if backend == "numpy" else [1.15, 0.95, 1.0]
            for r, blocks in synthetic(center * 1e-3, drifts, seed=len(model) + int(center * 100)).items():
                store.add({"sweep": "models", "kind": "step", "backend": backend, "mode": "eager", "label":
                           f"{backend}:eager", "model": model, "batch_size": 4, "threads": 2, "dtype": "float32",
                           "round": r, "status": "ok", "step_median_s": float(np.median(blocks)),
                           "block_s": list(blocks), "flops_per_step": 10.0})
    folder = load(tmp_path)
    table = ranked_table(folder, folder.results, "model")
    assert table.loc["xor", "numpy:eager"].startswith("**") and "wins" in table.loc["xor", "verdict"]
    assert not table.loc["mnist", "numpy:eager"].startswith("**")
    assert table.loc["mnist", "verdict"] == "tie: numpy:eager, jax:eager"


# ----- provenance -------------------------------------------------------------------------------------------------

def test_provenance_ignores_the_output_folder_and_a_dirty_run_says_so(tmp_path):
    porcelain = " M reports/results.csv\n M backprop/model.py\n?? benchmarks/new.py\nR  a.py -> b.py\n"
    assert changed_paths(porcelain, ROOT / "reports") == ["backprop/model.py", "benchmarks/new.py", "b.py"]
    clean = {"git": {"commit": "abc", "clean": True, "changed": []},
             "git_at_end": {"commit": "abc", "clean": True, "changed": []}}
    assert is_committed(clean)
    assert not is_committed({**clean, "git_at_end": {"commit": "abd", "clean": True, "changed": []}})
    assert not is_committed({**clean, "git": {"commit": "abc", "clean": False, "changed": ["x.py"]}})
    from benchmarks.report import provenance

    dirty = provenance({"git": {"commit": "abc", "clean": False, "changed": ["x.py"]}})
    assert dirty[0].startswith("> **⚠ Not a committed run.**") and "x.py" in dirty[0]
    assert provenance(clean) == ["- Provenance: a committed run: git abc, clean tree."]
    interrupted = provenance({**clean, "interrupted": True})
    assert interrupted[0].startswith("> The run was interrupted") and interrupted[-1].startswith("- Provenance")


# ----- performance targets ------------------------------------------------------------------------------------------

def test_performance_targets_use_the_tie_rule_and_the_overhead_intervals(tmp_path):
    from benchmarks.targets import targets

    store = ResultStore(tmp_path, resume=False)
    drifts = [1.0, 1.2, 0.9]
    cells = [("xor", "numpy", "eager", 1.0), ("xor", "jax", "jit", 1.5), ("xor", "jax-minimal", "jit-donate", 1.45),
             ("xor", "torch", "eager", 12.0), ("xor", "torch-minimal", "eager-fused", 9.0),
             ("mnist", "numpy", "eager", 1.0), ("mnist", "jax", "jit", 1.01)]
    for index, (model, backend, mode, center) in enumerate(cells):
        for r, blocks in synthetic(center * 1e-3, drifts, seed=index).items():
            store.add({"sweep": "models", "kind": "step", "backend": backend, "mode": mode,
                       "label": f"{backend}:{mode}", "model": model, "batch_size": 4, "threads": 2,
                       "dtype": "float32", "round": r, "status": "ok", "step_median_s": float(np.median(blocks)),
                       "block_s": list(blocks), "flops_per_step": 10.0})
    text = "\n".join(targets(load(tmp_path)))
    assert "a win by the tie rule): 1 of 2" in text
    assert "| mnist   |" in text and "tie" in text
    assert "torch:eager on xor: 1.33× [" in text and "(missed; no guarded twin" in text
    assert "jax:jit" in text and "Not met:" in text
    assert math.isfinite(load(tmp_path).results["step_ci_high_s"].max())


def test_the_minimal_loops_take_dense_and_convolutional_specs_they_can_build_like_for_like():
    from backprop.presets import PRESETS
    from backprop.spec import as_spec
    from benchmarks.reference_loops import supports

    assert supports(as_spec(PRESETS["mnist-lenet5"].spec)) and supports(as_spec(resolve_model("mnist").spec))
    cnn = PRESETS["digits-cnn"].spec
    padded_pool = {**cnn, "layers": [{"type": "avg_pool2d", "pool_size": 3, "strides": 2, "padding": "same"},
                                     *cnn["layers"]]}
    assert not supports(as_spec(padded_pool))
    assert not supports(as_spec({**cnn, "optimizer": {"name": "rmsprop"}}))
