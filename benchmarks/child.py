"""Run one process of one benchmark cell in this (fresh) process and write its result row as JSON.

``python -m benchmarks.child CELL_JSON RESULT_PATH``, or :func:`main` in a process forked from a server that has
imported the framework (:mod:`benchmarks.forkserver`). Thread settings are fixed first, before any framework is
imported (:mod:`benchmarks.threads`); then the cell runs, and the row, with its peak RSS (``getrusage``, this
process only) and the verified thread figures, is written atomically to ``RESULT_PATH``. An exception becomes an
``error`` row and exit status 1; a crash or hang leaves no row and the parent (:mod:`benchmarks.run`) writes one.

A ``step`` process times the native step (``model.native_train_step`` on tensors from ``model.prepare_batch``)
as :mod:`benchmarks.timing` describes and, for a suite backend, in rotating blocks with the public
``model.train_step(X, y)`` on NumPy arrays (:func:`time_with_public`): X already in the model dtype and class
labels as integers, so its extra cost is the suite's own (validation, one-hot labels, conversion, the lock and the
loss read back on every call).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from . import threads as thread_control

ROTATIONS = 15  # rounds of a minimal loop's rotating blocks, while they fit max_timed_s (a ratio near 1.1 needs them)
CHECK_STEPS = 3  # length of the fixed final-loss check run (see benchmarks.timing)


def seeded_batch(spec, batch_size: int, seed: int = 0):
    """Identical data on every backend: X ~ N(0, 1) (B, *input_shape); labels, 0/1 targets or N(0, 1) targets."""
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch_size, *getattr(spec, "input_shape", (spec.input_dim,))))
    k = spec.output_dim
    if spec.loss == "cross_entropy":
        return X, rng.integers(0, k, batch_size)
    if spec.loss == "binary_cross_entropy":
        return X, rng.integers(0, 2, (batch_size, k)).astype(float)
    return X, rng.standard_normal((batch_size, k))


@dataclass
class Trainer:
    """The calls a cell times: native batch preparation and step, class predictions, and for a suite backend
    its public model (``model``; None for a minimal loop)."""

    prepare: Callable[[Any, Any], tuple[Any, Any]]
    native_step: Callable[[Any, Any], Any]
    classes: Callable[[Any], Any]
    model: Any = None


def build_trainer(cell: dict, spec) -> Trainer:
    """The :class:`Trainer` of a suite backend or of a minimal loop."""
    import numpy as np

    from .reference_loops import REFERENCES, build_reference

    label = f"{cell['backend']}:{cell['mode']}"
    if label in REFERENCES:
        loop = build_reference(label, spec, cell["dtype"], seed=0)
        return Trainer(loop.prepare_batch, loop.train_step, lambda X: np.argmax(loop.logits(loop.features(X)), axis=1))
    import backprop

    model = backprop.build(spec, backend=cell["backend"], dtype=cell["dtype"], seed=0, mode=cell["mode"])
    return Trainer(model.prepare_batch, model.native_train_step, lambda X: np.argmax(model.predict(X), axis=1),
                   model)


def run_step(cell: dict, spec, config: dict) -> dict:
    trainer = build_trainer(cell, spec)
    X, y = seeded_batch(spec, cell["batch_size"])
    Xn, yn = trainer.prepare(X, y)
    step = lambda: trainer.native_step(Xn, yn)  # noqa: E731
    probe: dict = {}

    def start_probe() -> None:
        probe.update(probe=thread_control.ThreadProbe.start(), os_threads=thread_control.os_thread_count())

    if trainer.model is None:
        timing, extra = time_beside_suite(cell, spec, step, X, y, config, start_probe)
    else:
        timing, extra = time_with_public(cell, trainer.model, step, X, y, config, start_probe)
    return {**timing_fields(timing), "final_loss": timing.final_loss, "check_steps": timing.check_steps,
            "flops_per_step": spec.flops_per_step(cell["batch_size"]), "cpu_per_wall": probe["probe"].stop(),
            "os_threads": probe["os_threads"], **extra}


def time_with_public(cell: dict, model, step: Callable[[], Any], X, y, config: dict,
                     before_blocks: Callable[[], None]) -> tuple[Any, dict]:
    """A suite label's :class:`benchmarks.timing.Timing` and its public ``model.train_step(X, y)`` blocks.

    The native step's check run and calibration come first, then one public call to warm its path; then native
    and public blocks of as many steps run in rotating order (:func:`benchmarks.timing.rotating_blocks`), so
    public ÷ native is paired within each round. A public call is never faster than a native one, so its blocks
    last at least as long."""
    import numpy as np

    from .timing import Timing, rotating_blocks, warm_up

    compile_s, warmup_s, final_loss, k = warm_up(step, CHECK_STEPS, config["block_s"])
    X_public = np.asarray(X, dtype=cell["dtype"])
    y_public = y if y.dtype.kind in "iu" else np.asarray(y, dtype=cell["dtype"])
    public = lambda: model.train_step(X_public, y_public)  # noqa: E731  (the call a library user makes)
    public()
    native, blocks = rotating_blocks([(step, k), (public, k)], cell["repeats"], config["max_timed_s"], before_blocks)
    return (Timing(compile_s, warmup_s, final_loss, CHECK_STEPS, k, native),
            {"public_median_s": float(np.median(blocks)), "public_block_s": blocks})


def time_beside_suite(cell: dict, spec, loop_step: Callable[[], Any], X, y, config: dict,
                      before_blocks: Callable[[], None]) -> tuple[Any, dict[str, list[float]]]:
    """A minimal loop's :class:`benchmarks.timing.Timing` and, per round of blocks, suite ÷ loop
    (``paired_ratios``) and, for a loop with a guarded twin, suite ÷ twin (``guarded_ratios``).

    The loop's check run and calibration come first; then the suite model of the mode the loop mirrors (and the
    twin) is built in this process and put through the same two steps; then they all run in rotating blocks
    (:func:`benchmarks.timing.rotating_blocks`). The loop's blocks are its figure."""
    from .reference_loops import GUARDED_MODULES, REFERENCES, build_reference
    from .timing import Timing, rotating_blocks, warm_up

    compile_s, warmup_s, final_loss, k = warm_up(loop_step, CHECK_STEPS, config["block_s"])
    label = f"{cell['backend']}:{cell['mode']}"
    reference = REFERENCES[label]
    suite = build_trainer({**cell, "backend": reference.framework, "mode": reference.suite_mode}, spec)
    Xs, ys = suite.prepare(X, y)
    steps = [(loop_step, k), warmed(lambda: suite.native_step(Xs, ys), config)]
    if reference.module in GUARDED_MODULES:
        twin = build_reference(label, spec, cell["dtype"], seed=0, guarded=True)
        Xt, yt = twin.prepare_batch(X, y)
        steps.append(warmed(lambda: twin.train_step(Xt, yt), config))
    blocks = rotating_blocks(steps, max(cell["repeats"], ROTATIONS), config["max_timed_s"], before_blocks)
    ratios = {"paired_ratios": [s / l for s, l in zip(blocks[1], blocks[0])]}
    if len(blocks) == 3:
        ratios["guarded_ratios"] = [s / t for s, t in zip(blocks[1], blocks[2])]
    return Timing(compile_s, warmup_s, final_loss, CHECK_STEPS, k, blocks[0]), ratios


def warmed(step: Callable[[], Any], config: dict) -> tuple[Callable[[], Any], int]:
    """``(step, k)`` after its check run and calibration."""
    from .timing import warm_up

    return step, warm_up(step, CHECK_STEPS, config["block_s"])[3]


def timing_fields(timing) -> dict:
    return {"compile_s": timing.compile_s, "warmup_s": timing.warmup_s, "step_median_s": timing.step_median_s,
            "step_iqr_s": timing.step_iqr_s, "noisy": timing.noisy, "steps_per_block": timing.steps_per_block,
            "blocks": timing.blocks, "block_s": timing.block_s}


def run_gemm(cell: dict, config: dict) -> dict:
    from .gemm import gemm_peak

    probe = thread_control.ThreadProbe.start()
    timing = gemm_peak(cell["batch_size"], cell["repeats"], config["max_timed_s"])
    return {**timing_fields(timing), "flops_per_step": 2 * cell["batch_size"] ** 3, "cpu_per_wall": probe.stop(),
            "os_threads": thread_control.os_thread_count()}


def run_tta(cell: dict, spec, config: dict) -> dict:
    """Time to accuracy on the task named by the cell's model (:data:`benchmarks.time_to_accuracy.TASKS`)."""
    from .time_to_accuracy import TASKS, public_epochs, sklearn_to_accuracy, train_to_accuracy

    probe = thread_control.ThreadProbe.start()
    task = TASKS[cell["model"]]
    data = task.data()
    if cell["backend"] == "sklearn":
        result = sklearn_to_accuracy(spec, data, cell["dtype"], cell["batch_size"], task.max_epochs)
    else:
        trainer = build_trainer(cell, spec)
        result = train_to_accuracy(trainer.prepare, trainer.native_step,
                                   lambda: float((trainer.classes(data.X_test) == data.y_test).mean()),
                                   data.X_train, data.y_train, cell["batch_size"], task.max_epochs)
        if trainer.model is not None and task.sklearn:
            result.update(public_epochs(trainer.model, data.X_train, data.y_train, cell["batch_size"],
                                        config["public_epochs"]))
    return {**result, "cpu_per_wall": probe.stop(), "os_threads": thread_control.os_thread_count()}


def run_cell(cell: dict, config: dict) -> dict:
    """Run ``cell`` (thread settings already pinned) and return its result fields."""
    thread_control.apply_framework_settings(cell["backend"], cell["threads"])
    from backprop.spec import as_spec

    if cell["kind"] == "gemm":
        return run_gemm(cell, config)
    spec = as_spec(cell["spec"])
    return run_step(cell, spec, config) if cell["kind"] == "step" else run_tta(cell, spec, config)


def write_json(path: str, row: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as handle:
        json.dump(row, handle, default=str)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    payload = json.loads(argv[0])
    cell, config, result_path = payload["cell"], payload["config"], argv[1]
    pinned = thread_control.pin_before_import(cell["threads"])
    row: dict = {"status": "ok", "error": "", "affinity": pinned["affinity"]}
    code = 0
    try:
        row.update(run_cell(cell, config))
    except Exception as exc:  # one failing cell becomes one error row; the run goes on
        row.update(status="error", error=f"{type(exc).__name__}: {exc}"[:500],
                   traceback="".join(traceback.format_exc().splitlines(keepends=True)[-8:]))
        code = 1
    reported = None if row["status"] != "ok" else thread_control.framework_threads(cell["backend"])
    row["framework_threads"] = reported
    row["threads_verified"] = bool(row["status"] == "ok" and thread_control.verify(
        cell["threads"], pinned["affinity"], row.get("cpu_per_wall", float("nan")), reported))
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    write_json(result_path, row)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
