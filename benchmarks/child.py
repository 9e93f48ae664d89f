"""Run one benchmark cell in this (fresh) process and write its result row as JSON.

``python -m benchmarks.child CELL_JSON RESULT_PATH``. Thread settings are fixed first, before any framework is
imported (:mod:`benchmarks.threads`); then the cell runs, and the row, with its peak RSS (``getrusage``, this
process only) and the verified thread figures, is written atomically to ``RESULT_PATH``. An exception becomes an
``error`` row and exit status 1; a crash or hang leaves no row and the parent (:mod:`benchmarks.run`) writes one.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import traceback

from . import threads as thread_control

CHECK_STEPS = 10  # length of the fixed final-loss check run (see benchmarks.timing)


def seeded_batch(spec, batch_size: int, seed: int = 0):
    """Identical data on every backend: X ~ N(0, 1) (B, input_dim); labels, 0/1 targets or N(0, 1) targets."""
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch_size, spec.input_dim))
    k = spec.output_dim
    if spec.loss == "cross_entropy":
        return X, rng.integers(0, k, batch_size)
    if spec.loss == "binary_cross_entropy":
        return X, rng.integers(0, 2, (batch_size, k)).astype(float)
    return X, rng.standard_normal((batch_size, k))


def build_trainer(cell: dict, spec):
    """``(prepare_batch, train_step, predict_classes)`` for a suite backend or a reference loop."""
    import numpy as np

    if cell["backend"] in ("torch-minimal", "tensorflow-minimal", "jax-minimal"):
        from .reference_loops import build_reference

        loop = build_reference(cell["backend"], spec, cell["dtype"], seed=0)
        return loop.prepare_batch, loop.train_step, lambda X: np.argmax(loop.logits(loop.to_native(
            np.asarray(X, dtype=cell["dtype"]))), axis=1)
    import backprop

    model = backprop.build(spec, backend=cell["backend"], dtype=cell["dtype"], seed=0, mode=cell["mode"])
    return model.prepare_batch, model.native_train_step, lambda X: np.argmax(model.predict(X), axis=1)


def run_step(cell: dict, spec, config: dict) -> dict:
    from .timing import measure

    prepare, train_step, _ = build_trainer(cell, spec)
    Xn, yn = prepare(*seeded_batch(spec, cell["batch_size"]))
    probe_box = {}

    def start_probe() -> None:
        if "probe" not in probe_box:
            probe_box["probe"] = thread_control.ThreadProbe.start()
            probe_box["os_threads"] = thread_control.os_thread_count()

    timing = measure(lambda: train_step(Xn, yn), check_steps=CHECK_STEPS, block_s=config["block_s"],
                     repeats=cell["repeats"], max_timed_s=config["max_timed_s"], on_block=start_probe)
    flops = spec.flops_per_step(cell["batch_size"])
    return {**timing_fields(timing), "final_loss": timing.final_loss, "check_steps": timing.check_steps,
            "samples_per_s": cell["batch_size"] / timing.step_median_s,
            "gflops": flops / timing.step_median_s / 1e9, "flops_per_step": flops,
            "cpu_per_wall": probe_box["probe"].stop(), "os_threads": probe_box["os_threads"]}


def timing_fields(timing) -> dict:
    return {"compile_s": timing.compile_s, "warmup_s": timing.warmup_s, "step_median_s": timing.step_median_s,
            "step_iqr_s": timing.step_iqr_s, "noisy": timing.noisy, "steps_per_block": timing.steps_per_block,
            "blocks": timing.blocks}


def run_gemm(cell: dict, config: dict) -> dict:
    from .gemm import gemm_peak

    probe = thread_control.ThreadProbe.start()
    timing, gflops = gemm_peak(cell["batch_size"], cell["repeats"], config["max_timed_s"])
    return {**timing_fields(timing), "gflops": gflops, "flops_per_step": 2 * cell["batch_size"] ** 3,
            "cpu_per_wall": probe.stop(), "os_threads": thread_control.os_thread_count()}


def run_tta(cell: dict, spec, config: dict) -> dict:
    from .time_to_accuracy import digits_data, sklearn_to_accuracy, train_to_accuracy

    probe = thread_control.ThreadProbe.start()
    if cell["backend"] == "sklearn":
        result = sklearn_to_accuracy(spec, cell["dtype"], cell["batch_size"], config["tta_epochs"])
    else:
        data = digits_data()
        prepare, train_step, classes = build_trainer(cell, spec)
        result = train_to_accuracy(prepare, train_step,
                                   lambda: float((classes(data.X_test) == data.y_test).mean()),
                                   data.X_train, data.y_train, cell["batch_size"], config["tta_epochs"])
    steps = -(-len(digits_data().X_train) // cell["batch_size"])
    return {**result, "step_median_s": result["epoch_s"] / steps,
            "samples_per_s": cell["batch_size"] / (result["epoch_s"] / steps),
            "cpu_per_wall": probe.stop(), "os_threads": thread_control.os_thread_count()}


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
