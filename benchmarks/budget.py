"""How long a sweep will take: a cost model of one process per cell kind and label, and the plan it adds up to.

``python -m benchmarks.run --plan`` prints the plan (cells × R processes × estimated seconds) without running it.
The model is a fixed table, so the estimate of a sweep never depends on another run's timings:

- a process's start (interpreter, imports, building the model; :data:`START_S`) and its first call (tracing,
  compiling; :data:`COMPILE_S`), measured on this 2-vCPU machine when it was quiet (the 901b48b run, whose cells
  each ran in one process);
- the steps it runs, each estimated as a fixed per-step cost of the label (:data:`DISPATCH_S`) plus the model's
  GEMM FLOPs at :data:`GEMM_RATE` per thread;
- the timing procedure of :mod:`benchmarks.child`: the check run, the calibration, the timed blocks (each ≥
  ``block_s`` or one step, at most ``max_timed_s`` once three are done) and, for a suite label, the public step's
  own calibration and blocks.

On a busy day the machine runs 1.5–2× slower than this and the sweep takes as much longer.
"""

from __future__ import annotations

import math

from backprop.spec import as_spec

from .cells import Cell
from .child import CHECK_STEPS
from .reference_loops import REFERENCES
from .sweeps import SweepConfig

START_S = {"numpy": 0.45, "torch": 3.0, "tensorflow": 5.6, "jax": 1.4, "sklearn": 1.2}
COMPILE_S = {"torch:compile": 3.0, "tensorflow:xla": 0.6, "tensorflow:function": 0.2, "jax:jit": 0.45}
DISPATCH_S = {"numpy": 12e-6, "torch": 250e-6, "tensorflow": 300e-6, "tensorflow:eager": 5e-3, "jax": 20e-6,
              "sklearn": 450e-6}
GEMM_RATE = 50e9  # float32 FLOP/s per thread, about half the measured peak
DIGITS_LOAD_S = 1.0  # scikit-learn's digits, loaded and split by a time-to-accuracy process
TTA_EPOCHS = 6  # epochs to 95 % on digits, every backend (the 901b48b run)
DIGITS_STEPS_PER_EPOCH = 43  # 1347 training rows in batches of 32


def framework(backend: str) -> str:
    """``jax-minimal`` → ``jax``; a suite backend, ``sklearn`` and unknown (test) backends are their own."""
    return next((ref.framework for ref in REFERENCES.values() if ref.backend == backend), backend)


def mirrored_label(cell: Cell) -> str:
    """The suite label whose costs a cell has: a minimal loop costs what the suite mode it mirrors costs."""
    reference = REFERENCES.get(cell.label)
    return reference.suite_label if reference else cell.label


def step_s(cell: Cell) -> float:
    """One train step of the cell's model at its batch size and thread count."""
    name = framework(cell.backend)
    dispatch = DISPATCH_S.get(mirrored_label(cell), DISPATCH_S.get(name, DISPATCH_S["numpy"]))
    return dispatch + as_spec(cell.spec).flops_per_step(cell.batch_size) / (GEMM_RATE * cell.threads)


def blocks_s(step: float, config: SweepConfig, repeats: int) -> tuple[float, int]:
    """Seconds of the timed blocks and the number of blocks, for a step of ``step`` seconds."""
    block = max(config.block_s, step)
    count = min(repeats, max(3, math.ceil(config.max_timed_s / block)))
    return count * block, count


def process_s(cell: Cell, config: SweepConfig) -> float:
    """Estimated wall seconds of one process of ``cell``."""
    name = framework(cell.backend)
    start = START_S.get(name, START_S["numpy"]) + COMPILE_S.get(mirrored_label(cell), 0.0)
    if cell.kind == "gemm":
        step = 2.0 * cell.batch_size ** 3 / (2 * GEMM_RATE * cell.threads)
        return start + 3 * step + config.block_s + blocks_s(step, config, cell.repeats)[0]
    step = step_s(cell)
    if cell.kind == "tta":
        epochs = TTA_EPOCHS + (config.public_epochs if name in ("numpy", "torch", "tensorflow", "jax") else 0)
        return start + DIGITS_LOAD_S + epochs * DIGITS_STEPS_PER_EPOCH * step
    timed, count = blocks_s(step, config, cell.repeats)
    calibration = 2 * config.block_s + step
    public = calibration + blocks_s(step, config, config.public_repeats)[0] if cell.label not in REFERENCES else 0.0
    return start + CHECK_STEPS * step + calibration + timed + public


def plan_summary(cells: list[Cell], config: SweepConfig, rounds: int) -> dict:
    """Cells, rounds, processes and estimated seconds of a sweep, by sweep tag and in total."""
    per_round = sum(process_s(cell, config) for cell in cells)
    by_sweep: dict[str, list[float]] = {}
    for cell in cells:
        entry = by_sweep.setdefault(cell.sweep, [0, 0.0])
        entry[0] += 1
        entry[1] += process_s(cell, config) * rounds
    return {"sweep": config.name, "cells": len(cells), "rounds": rounds, "processes": len(cells) * rounds,
            "seconds_per_round": per_round, "seconds": per_round * rounds,
            "by_sweep": {tag: {"cells": n, "seconds": s} for tag, (n, s) in by_sweep.items()}}


def plan_text(summary: dict) -> str:
    """The plan as printed by ``--plan``."""
    lines = [f"{summary['sweep']} sweep: {summary['cells']} cells × {summary['rounds']} rounds = "
             f"{summary['processes']} processes, estimated {summary['seconds'] / 60:.1f} min "
             f"({summary['seconds_per_round']:.0f} s per round) on a quiet machine"]
    for tag, entry in summary["by_sweep"].items():
        lines.append(f"  {tag:<24} {entry['cells']:>4} cells  {entry['seconds'] / 60:5.1f} min")
    return "\n".join(lines)
