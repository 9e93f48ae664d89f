"""How long a sweep will take: a cost model of one process per cell kind and label, and the plan it adds up to.

``python -m benchmarks.run --plan`` prints the plan (cells × R processes × estimated seconds) without running it.
The model is a fixed table, so the estimate of a sweep never depends on another run's timings:

- a fork server's start, once per framework and thread count (:data:`SERVER_S`: interpreter and imports; see
  :mod:`benchmarks.forkserver`); with ``--start spawn`` every process pays it;
- a process's start (:data:`FORK_S`: the fork, building the model, JAX's CPU client), its first call (tracing,
  compiling; :data:`COMPILE_S`, plus :data:`LAYER_COMPILE_S` for every layer that is not dense) and the building
  of its parameters (:data:`BUILD_S_PER_PARAM`: the suite's initialization, then the framework's copy, first
  touches of memory),
  measured on this 2-vCPU machine when it was quiet (the 901b48b run for the dense models, one process per cell;
  one-round spot checks of lenet5, cifar-cnn, cifar-cnn-native-masks, fcn5 and mnist-bn for the rest; forked
  starts, NumPy's per-element cost and JAX's conv rate from a one-round forked default run of 272 s);
- the steps it runs, each estimated as a fixed per-step cost of the label (:data:`DISPATCH_S`), plus the model's
  GEMM FLOPs (dense and conv2d) at :data:`GEMM_RATE` per thread (:data:`CONV_RATE` for JAX's convolutions), plus
  a cost per number that the layers other than dense output (:data:`ELEMENT_S`: im2col, pooling, dropout and
  batch-norm passes, memory-bound), per number that a framework's own dropout masks (:data:`NATIVE_MASK_S`) and
  per parameter (:data:`PARAM_S`: the gradient and update passes over memory);
- the timing procedure of :mod:`benchmarks.child`: the check run, the calibration (none when a step lasts ≥
  ``block_s``), the timed blocks (each ≥ ``block_s`` or one step, at most ``max_timed_s`` once three are done)
  rotating, for a suite label, with the public step's (after one public warm-up call); for a minimal loop, with
  the suite model's and the loop's guarded twin's (each built, compiled and warmed up beside it);
- a time-to-accuracy process: its data (:data:`TTA_LOAD_S`), :data:`TTA_EPOCHS` epochs to the target, a test
  forward pass after each, and on digits the public fit epochs (each a predict over the training set too).

On a busy day the machine runs 1.5–2× slower than this and the sweep takes as much longer.
"""

from __future__ import annotations

import math

from backprop.spec import as_spec

from .cells import Cell
from .child import CHECK_STEPS, ROTATIONS
from .reference_loops import REFERENCES, framework_of
from .sweeps import SweepConfig
from .time_to_accuracy import TASKS

SERVER_S = {"numpy": 0.45, "torch": 4.5, "tensorflow": 5.6, "jax": 1.4, "sklearn": 1.2}
FORK_S = {"numpy": 0.05, "torch": 0.1, "tensorflow": 0.45, "jax": 0.6, "sklearn": 0.05}
COMPILE_S = {"torch:compile": 3.0, "tensorflow:xla": 0.6, "tensorflow:function": 0.2, "jax:jit": 0.45}
LAYER_COMPILE_S = {"torch:compile": 0.5, "tensorflow:xla": 0.3, "tensorflow:function": 0.3, "jax:jit": 0.25}
BUILD_S_PER_PARAM = {"suite": 50e-9, "minimal": 120e-9}  # a minimal loop also converts the suite's weights
DISPATCH_S = {"numpy": 12e-6, "torch": 250e-6, "tensorflow": 300e-6, "tensorflow:eager": 5e-3, "jax": 20e-6,
              "sklearn": 450e-6}
GEMM_RATE = 50e9  # float32 FLOP/s per thread, about half the measured peak
CONV_RATE = {"jax": 12e9}  # XLA's CPU convolutions, per thread; the others run theirs at GEMM_RATE
ELEMENT_S = {"numpy": 22e-9, "torch": 9e-9, "tensorflow": 18e-9, "jax": 30e-9}  # at all cores
PARAM_S = {"numpy": 0.5e-9, "torch": 3e-9, "tensorflow": 2.5e-9, "jax": 2.5e-9}  # gradient and update passes
NATIVE_MASK_S = {"tensorflow": 350e-9}  # Keras' own dropout draws under XLA, per masked number
TTA_LOAD_S = {"digits": 1.0, "mnist-lenet5": 3.5}  # the task's data, loaded and split
TTA_EPOCHS = {"digits": 6, "mnist-lenet5": 3}  # epochs to 95 %, every backend (901b48b; the lenet5 spot check)


def mirrored_label(cell: Cell) -> str:
    """The suite label whose costs a cell has: a minimal loop costs what the suite mode it mirrors costs."""
    reference = REFERENCES.get(cell.label)
    return reference.suite_label if reference else cell.label


def step_s(cell: Cell) -> float:
    """One train step of the cell's model at its batch size and thread count."""
    name = framework_of(cell.backend)
    dispatch = DISPATCH_S.get(mirrored_label(cell), DISPATCH_S.get(name, DISPATCH_S["numpy"]))
    spec = as_spec(cell.spec)
    dense, conv, elements, masked = step_work(spec, cell.batch_size)
    native_masks = masked if spec.dropout_rng == "native" else 0
    return (dispatch + dense / (GEMM_RATE * cell.threads) + conv / (CONV_RATE.get(name, GEMM_RATE) * cell.threads)
            + elements * ELEMENT_S.get(name, ELEMENT_S["numpy"]) + native_masks * NATIVE_MASK_S.get(name, 0.0)
            + spec.param_count() * PARAM_S.get(name, PARAM_S["numpy"]))


def step_work(spec, batch_size: int) -> tuple[int, int, int, int]:
    """The work of one step: dense GEMM FLOPs, conv2d GEMM FLOPs (as :meth:`NetworkSpec.flops_per_step` counts
    them), the numbers output by the layers that are not dense, and those output by dropout layers."""
    dense = conv = elements = masked = 0
    first = True
    for layer, shape, out in zip(spec.layers, spec.input_shapes, spec.shapes):
        flops = layer.gemm_flops(shape, batch_size, first)
        first = first and flops == 0
        if layer.type == "conv2d":
            conv += flops
        else:
            dense += flops
        if layer.type != "dense":
            elements += batch_size * math.prod(out)
        if layer.type == "dropout":
            masked += batch_size * math.prod(out)
    return dense, conv, elements, masked


def blocks_s(step: float, config: SweepConfig, repeats: int) -> tuple[float, int]:
    """Seconds of the timed blocks and the number of blocks, for a step of ``step`` seconds."""
    block = max(config.block_s, step)
    count = min(repeats, max(3, math.ceil(config.max_timed_s / block)))
    return count * block, count


def rotated_s(step: float, config: SweepConfig, repeats: int, steps: int) -> float:
    """Seconds of rounds of ``steps`` rotating blocks of a ``step``-second step (:func:`blocks_s`'s rule, the
    timed budget shared by the round)."""
    block = max(config.block_s, step)
    return steps * block * min(repeats, max(3, math.ceil(config.max_timed_s / (steps * block))))


def server_s(cell: Cell) -> float:
    """The start of the fork server of the cell's framework: its interpreter and imports."""
    return SERVER_S.get(framework_of(cell.backend), SERVER_S["numpy"])


def start_s(cell: Cell, how: str = "fork") -> float:
    """A process's start (forked, or with ``how`` "spawn" its own interpreter and imports), its parameters'
    building and its first call's compile."""
    name = framework_of(cell.backend)
    start = FORK_S.get(name, FORK_S["numpy"]) + (server_s(cell) if how == "spawn" else 0.0)
    if cell.kind == "gemm":
        return start
    label = mirrored_label(cell)
    spec = as_spec(cell.spec)
    build = spec.param_count() * BUILD_S_PER_PARAM["minimal" if cell.label in REFERENCES else "suite"]
    return start + build + compile_s(label, spec)


def compile_s(label: str, spec) -> float:
    """The first call of ``label``'s step on ``spec``: tracing and compiling."""
    layers = sum(layer.type != "dense" for layer in spec.layers)
    return COMPILE_S.get(label, 0.0) + layers * LAYER_COMPILE_S.get(label, 0.0)


def process_s(cell: Cell, config: SweepConfig, how: str = "fork") -> float:
    """Estimated wall seconds of one process of ``cell``, forked or (``how`` "spawn") in its own interpreter."""
    start = start_s(cell, how)
    if cell.kind == "gemm":
        step = 2.0 * cell.batch_size ** 3 / (2 * GEMM_RATE * cell.threads)
        return start + 3 * step + config.block_s + blocks_s(step, config, cell.repeats)[0]
    step = step_s(cell)
    if cell.kind == "tta":
        return start + tta_s(cell, config, step)
    warm = CHECK_STEPS * step + (0.0 if step >= config.block_s else 2 * config.block_s + step)
    if cell.label in REFERENCES:  # the suite model and a guarded twin beside the loop, and their rotating blocks
        suite = as_spec(cell.spec).param_count() * BUILD_S_PER_PARAM["suite"]
        beside = 2 * (suite + compile_s(mirrored_label(cell), as_spec(cell.spec)) + warm)
        return start + warm + beside + rotated_s(step, config, max(cell.repeats, ROTATIONS), 3)
    return start + warm + step + rotated_s(step, config, cell.repeats, 2)  # with the public step's warm-up call


def tta_s(cell: Cell, config: SweepConfig, step: float) -> float:
    """A time-to-accuracy process after its start: the data, the epochs to the target with a test forward pass
    (a third of a step per row) after each, and on a task compared with scikit-learn, a suite label's public fit
    epochs (with a predict over the training set)."""
    task = TASKS[cell.model]
    epoch = task.steps_per_epoch * step
    test_rows = task.train_rows / 3  # the presets' test splits are a quarter and a fifth of their data
    forward = step / 3 / task.batch_size
    suite = framework_of(cell.backend) in ("numpy", "torch", "tensorflow", "jax") and cell.label not in REFERENCES
    public = config.public_epochs if task.sklearn and suite else 0
    trained = TTA_EPOCHS.get(task.name, task.max_epochs) * (epoch + test_rows * forward)
    return TTA_LOAD_S.get(task.name, 1.0) + trained + public * (epoch + task.train_rows * forward)


def plan_summary(cells: list[Cell], config: SweepConfig, rounds: int, how: str = "fork") -> dict:
    """Cells, rounds, processes and estimated seconds of a sweep, by sweep tag and in total (the fork servers'
    starts apart, in ``servers_s``)."""
    per_round = sum(process_s(cell, config, how) for cell in cells)
    servers = {(framework_of(cell.backend), cell.threads): server_s(cell) for cell in cells} if how == "fork" else {}
    by_sweep: dict[str, list[float]] = {}
    for cell in cells:
        entry = by_sweep.setdefault(cell.sweep, [0, 0.0])
        entry[0] += 1
        entry[1] += process_s(cell, config, how) * rounds
    return {"sweep": config.name, "cells": len(cells), "rounds": rounds, "processes": len(cells) * rounds,
            "seconds_per_round": per_round, "servers_s": sum(servers.values()),
            "seconds": per_round * rounds + sum(servers.values()),
            "by_sweep": {tag: {"cells": n, "seconds": s} for tag, (n, s) in by_sweep.items()}}


def plan_text(summary: dict) -> str:
    """The plan as printed by ``--plan``."""
    lines = [f"{summary['sweep']} sweep: {summary['cells']} cells × {summary['rounds']} rounds = "
             f"{summary['processes']} processes, estimated {summary['seconds'] / 60:.1f} min "
             f"({summary['seconds_per_round']:.0f} s per round, {summary['servers_s']:.0f} s of fork-server starts) "
             "on a quiet machine"]
    for tag, entry in summary["by_sweep"].items():
        lines.append(f"  {tag:<24} {entry['cells']:>4} cells  {entry['seconds'] / 60:5.1f} min")
    return "\n".join(lines)
