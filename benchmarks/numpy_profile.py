"""Where the NumPy train step spends its time, and what each optimization bought: ``reports/performance.md``.

    python -m benchmarks.numpy_profile [--out reports] [--history REV:label,REV:label,...]

1. Phase profile of the current step at each size (float32, all cores): forward pass, loss and its output
   gradient, the backward pass (including a fused sgd update where the model uses one), the optimizer update.
   Beside it, the same model's GEMMs timed alone (forward a@W, backward aᵀg and g@Wᵀ), so the non-GEMM overhead
   is visible.
2. History: the whole step timed at each listed git revision of the NumPy backend (checked out into a temporary
   worktree, run in a fresh subprocess), so each optimization's gain is measured, not claimed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

# Sizes from the performance issue's table: (benchmark model name, batch size).
SIZES = [("xor", 4), ("classifier", 32), ("digits", 128), ("mnist", 128), ("wide", 256)]

# Timing snippet run in a subprocess against a given checkout; it relies only on the long-stable
# build / prepare_batch / _train_step contract.
STEP_TIMER = r"""
import json, sys, time
import numpy as np
from threadpoolctl import threadpool_limits
import backprop
specs = json.loads(sys.argv[1])
out = {}
with threadpool_limits(int(sys.argv[2])):
    for name, spec, batch in specs:
        model = backprop.build(spec, backend="numpy", dtype="float32", seed=0)
        rng = np.random.default_rng(0)
        X = rng.normal(size=(batch, spec["input_dim"]))
        k = spec["layers"][-1]["units"]
        y = rng.integers(0, k, batch) if spec["loss"] == "cross_entropy" else rng.uniform(size=(batch, k))
        Xn, yn = model.prepare_batch(X, y)
        for _ in range(3):
            model._train_step(Xn, yn)
        k_steps, blocks = 1, []
        while True:
            start = time.perf_counter()
            for _ in range(k_steps):
                model._train_step(Xn, yn)
            if time.perf_counter() - start >= 0.02:
                break
            k_steps *= 2
        for _ in range(7):
            start = time.perf_counter()
            for _ in range(k_steps):
                model._train_step(Xn, yn)
            blocks.append((time.perf_counter() - start) / k_steps)
        out[name] = float(np.median(blocks))
print(json.dumps(out))
"""


def _median_time(fn, min_block_s: float = 0.02, blocks: int = 7) -> float:
    fn()
    k = 1
    while True:
        start = time.perf_counter()
        for _ in range(k):
            fn()
        if time.perf_counter() - start >= min_block_s:
            break
        k *= 2
    samples = []
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(k):
            fn()
        samples.append((time.perf_counter() - start) / k)
    return float(np.median(samples))


def _batch(spec: dict, batch: int):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(batch, spec["input_dim"]))
    k = spec["layers"][-1]["units"]
    return X, rng.integers(0, k, batch) if spec["loss"] == "cross_entropy" else rng.uniform(size=(batch, k))


def phase_profile(specs: list[tuple[str, dict, int]]) -> pd.DataFrame:
    """Per-phase median times (µs) of the current NumPy step for each model."""
    import backprop

    rows = []
    for name, spec, batch in specs:
        model = backprop.build(spec, backend="numpy", dtype="float32", seed=0)
        Xn, yn = model.prepare_batch(*_batch(spec, batch))
        fused_loss = model.loss.fused
        ws = model._forward(Xn, output_activation=not fused_loss)
        fused = any(model.fused_sgd)
        step = _median_time(lambda: model._train_step(Xn, yn))
        forward = _median_time(lambda: model._forward(Xn, output_activation=not fused_loss))
        loss = _median_time(lambda: model.loss.value_and_grad(ws.z[-1], ws.output, yn, ws.grad[-1], ws.scratch[-1]))
        backward = _median_time(lambda: model._backward(Xn, yn)) - forward - loss
        grads = model.buffers.flat_grads.copy()
        optimizer = 0.0 if fused else _median_time(lambda: model.optimizer.step(grads.copy())) - \
            _median_time(lambda: grads.copy())
        matrices = model.buffers.augmented_values
        gemm = sum(_median_time(lambda a=a, w=w: a @ w) for a, w in zip(ws.inputs, matrices))
        gemm += sum(_median_time(lambda a=a, g=g: a.T @ g) for a, g in zip(ws.inputs, ws.grad))
        gemm += sum(_median_time(lambda g=g, p=p: g @ p["W"].T) for g, p in zip(ws.grad[1:], model.params[1:]))
        flops = backprop.as_spec(spec).flops_per_step(batch)
        rows.append({"model": name, "batch": batch, "optimizer": spec["optimizer"]["name"],
                     "step µs": step * 1e6, "forward µs": forward * 1e6, "loss µs": loss * 1e6,
                     "backward µs": backward * 1e6,
                     "optimizer µs": "fused into backward GEMM" if fused else f"{optimizer * 1e6:.1f}",
                     "GEMMs alone µs": gemm * 1e6, "non-GEMM share": f"{max(0.0, 1 - gemm / step):.0%}",
                     "GFLOP/s": flops / step / 1e9})
    return pd.DataFrame(rows)


def history(revisions: list[tuple[str, str]], specs: list[tuple[str, dict, int]], threads: int) -> pd.DataFrame:
    """Median step time (µs) of each model at each git revision of the repository."""
    root = Path(__file__).resolve().parent.parent
    columns = {}
    for revision, label in revisions:
        with tempfile.TemporaryDirectory() as scratch:
            tree = Path(scratch) / "tree"
            subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", str(tree), revision],
                           check=True, capture_output=True)
            try:
                env = {**os.environ, "PYTHONPATH": str(tree)}
                output = subprocess.run([sys.executable, "-c", STEP_TIMER, json.dumps(specs), str(threads)],
                                        check=True, capture_output=True, text=True, env=env, cwd=scratch).stdout
            finally:
                subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(tree)],
                               capture_output=True)
        columns[f"{label} ({revision[:7]})"] = {name: seconds * 1e6 for name, seconds in json.loads(output).items()}
    return pd.DataFrame(columns)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.numpy_profile", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="reports")
    parser.add_argument("--history", default="", help="REV:label pairs, oldest first, comma-separated")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    from .models import named_models

    models = named_models()
    specs = [(name, models[name].spec, batch) for name, batch in SIZES]
    with threadpool_limits(args.threads):
        phases = phase_profile(specs)
    revisions = [tuple(item.split(":", 1)) for item in args.history.split(",") if item]
    sections = ["# NumPy backend performance profile\n",
                f"Generated by `python -m benchmarks.numpy_profile {' '.join(argv or sys.argv[1:])}` "
                f"(do not edit by hand); float32, {args.threads} BLAS threads, median of 7 calibrated blocks.\n",
                "## Where the time goes now\n",
                phases.to_markdown(index=False, floatfmt=".1f") + "\n"]
    if revisions:
        table = history(revisions, specs, args.threads)
        first = table.columns[0]
        speedup = table.apply(lambda column: table[first] / column).round(2)
        sections += ["## What each optimization bought (whole train step, µs)\n",
                     table.to_markdown(floatfmt=".1f") + "\n",
                     "Speed-up over the first revision:\n", speedup.to_markdown() + "\n"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "performance.md"
    temporary = path.with_suffix(".tmp")
    temporary.write_text("\n".join(sections))
    os.replace(temporary, path)
    print(path.read_text())


if __name__ == "__main__":
    main()
