"""Where the NumPy train step spends its time, and what each optimization bought: ``reports/performance.md``.

    python -m benchmarks.numpy_profile [--out reports] [--history REV:label,REV:label,...]

0. The performance targets (:mod:`benchmarks.targets`), checked against the benchmark run in ``--out``: NumPy
   fastest on every default model; the wide model's NumPy step at ≥ 80 % of the GEMM peak; NumPy ≥ 3× faster per
   digits epoch than scikit-learn; each suite mode within 1.1× of the minimal loop of the same mode.
1. Phase profile of the current step at each size (float32, all cores): forward pass, loss and its output
   gradient, the backward pass (including a fused sgd update where the model uses one), the optimizer update.
   Beside it, GEMMs of the same shapes timed alone (forward a@W, backward aᵀg and g@Wᵀ), so the non-GEMM overhead
   is visible.
2. History: the whole step timed at each listed git revision of the NumPy backend (checked out into a temporary
   worktree, run in fresh subprocesses, best of three interleaved rounds), so each optimization's gain is
   measured, not claimed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .frames import load
from .targets import targets

# Sizes from the performance issue's table: (benchmark model name, batch size).
SIZES = [("xor", 4), ("classifier", 32), ("digits", 128), ("mnist", 128), ("wide", 256)]
# The convolutional benchmark models and their batch sizes, profiled layer part by layer part.
CONV_SIZES = [("lenet5", 128), ("cifar-cnn", 64)]

# Timing snippet run in a subprocess against a given checkout. It times the native step: the public
# native_train_step where the revision has it, and for revisions before that public API the hook it calls.
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
        step = getattr(model, "native_train_step", None) or model._train_step
        for _ in range(3):
            step(Xn, yn)
        k_steps, blocks = 1, []
        while True:
            start = time.perf_counter()
            for _ in range(k_steps):
                step(Xn, yn)
            if time.perf_counter() - start >= 0.02:
                break
            k_steps *= 2
        for _ in range(7):
            start = time.perf_counter()
            for _ in range(k_steps):
                step(Xn, yn)
            blocks.append((time.perf_counter() - start) / k_steps)
        out[name] = float(np.median(blocks))
print(json.dumps(out))
"""


NOTES = """## Notes on the optimizations

- **Flat buffers.** Parameters and gradients each live in one array, and each layer's W, b and alpha are views
  into it. An optimizer update is then a fixed handful of whole-buffer calls: 2 for sgd, 10 for Adam, for any
  depth. Tiny and mid-sized nets are bound by the number of NumPy calls, so this is where they gain.
- **sgd fused into the GEMM.** For layers of ≥ 65 536 weights, [W; b] ← [W; b] − lr·[a, 1]ᵀ g runs inside BLAS
  (`beta = 1`), so the 100 MB gradient of the wide model is never written and read back. Routing only those GEMMs
  through SciPy's OpenBLAS while NumPy's OpenBLAS ran the rest made two busy-waiting thread pools fight for the
  2 cores, which is the slow 73175c0 column. Since dbfb59d a model that fuses sends all its GEMMs through SciPy.
- **[W; b] as one matrix.** W is stored directly before b, so the pair is one (fan_in + 1, units) matrix. Each
  activation buffer carries a column of ones. One GEMM then gives z with its bias, and one gives dW with db; the
  bias add and the bias-gradient reduction (a slow `sum(axis=0)`) disappear.
- **Workspaces, `out=`, `np.dot`, 0-d dtype constants.** Nothing is allocated per step. `np.dot(out=)` costs
  about half of `np.matmul` on tiny operands. A Python-float operand costs NumPy 2 a scalar conversion on every
  call; a 0-d array of the model dtype does not, and it cannot promote float32 to float64.
- **Adam on rescaled moments** m' = m/(1−β1), v' = v/(1−β2): the same formula in 10 passes instead of 13.
- **relu by a boolean mask.** The backward pass multiplies by the mask z > 0 (kept in a buffer) instead of a
  masked `np.copyto(where=)`, five times faster; the forward pass takes `np.maximum` against a zero array of z's
  shape, since a 0-d zero sends NumPy down a scalar loop three times slower. Leaky relu and prelu use the same
  mask as s + (1 − s)·mask. Optimizer hyperparameters became 0-d dtype constants too (ac967fc).
- **Row sums as a GEMM.** `a.sum(axis=1)` over the 10 classes of a (128, 10) softmax loops row by row; the
  product a @ 1 through the model's BLAS is about four times faster (b92b695).
- **Contiguous activations.** An element-wise op writing into the strided input slot [a, 1][:, :-1] costs 2–3× a
  contiguous write (0.93 against 0.35 µs at 4 × 4). Activations are now computed in their own buffers and copied
  once into the slot; the backward pass reads the contiguous copy. Loss totals of a product (Σ y·log p, Σ d²) are
  one BLAS dot instead of a multiply and a `sum`, which alone costs 1 µs on a tiny array (eaae948).
- **Softmax shifted by the batch max.** Softmax and log-sum-exp are shift-invariant; the row max over the 10
  classes of a (128, 10) batch loops row by row (7 µs, as much as the rest of the softmax). The batch-wide max is
  one contiguous reduction; rows whose sum of e^{z − m} falls below 1e-20 (their own max ≥ 46 below the batch's)
  are redone with their own maxima, so ±1e4 logits stay exact. The loss constants 1/N, 0 and a ones array are
  0-d or full arrays of the model dtype, remade only when the batch shape changes (443d7f7, ab7aceb).
- **Tried and dropped:** splitting the optimizer update across two Python threads (NumPy releases the GIL). It
  was slower here (Adam on mnist: 356–381 µs against 308–322 µs), which suggests the two vCPUs share one core.
  A transposed (features × batch) layout for the whole net makes the ones row contiguous, but its X copy and
  weight-gradient GEMM cost more than it saves at digits size. BLAS `axpy` from SciPy does p −= c·s in one
  pass (1.0 against 2.2 µs for digits' 9 546 parameters), but above 10 000 elements OpenBLAS threads it, and
  SciPy's pool then fights NumPy's busy-waiting GEMM pool: an mnist-layer GEMM followed by an mnist-sized axpy
  took 9.6 ms, against 0.35 ms with NumPy's two passes, at 2 threads. Left out, since the safe range depends on
  OpenBLAS internals. Running all 10 Adam passes chunk by chunk, so that each chunk stays in cache, was slower
  at every chunk size on mnist's 269 322 parameters (329–554 µs for chunks of 65 536 down to 4 096 elements,
  against 317–325 µs): the passes are not bound by memory traffic, and `np.sqrt` alone takes ~96 µs of them
  (16–38 µs for each of the others).

## Why NumPy does not win everywhere

- Digits and mnist (Adam, batch 128) are ties with JAX's jit, within 6 % either way from run to run. In digits
  about 65 µs of the NumPy step are GEMMs at the BLAS peak, and the other ~40 µs are element-wise passes that XLA
  fuses into a few loops (the 10 Adam passes ~15 µs, softmax and cross-entropy ~10 µs, the relu mask ~6 µs). Each
  NumPy pass is a separate single-threaded trip through memory plus ~0.5 µs of dispatch, and no NumPy call fuses
  them; in mnist the same passes run over 269 322 parameters and 128 × 256 activations.
- The wide model is GEMM-bound: NumPy (OpenBLAS) and XLA (tensorflow:xla, jax) both run at the measured GEMM
  peak, and the order between them changes from run to run.
- Timings on this shared 2-vCPU machine vary by 20–50 % between processes, sometimes 2× (the same NumPy XOR cell
  measured 17.8 µs and 30.9 µs back to back). Every cell therefore runs in several interleaved processes, and a
  ranking is a win only when its 95 % interval says so; rankings within a few percent are ties.
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


def dense_gemms(spec, batch: int) -> float:
    """Seconds of the step's dense GEMMs timed alone on random float32 operands of the same shapes: forward a@W
    and the weight gradient aᵀg for every layer, the input gradient g@Wᵀ for all but the first (DESIGN.md §5)."""
    rng = np.random.default_rng(0)
    total = 0.0
    for index, shapes in enumerate(backprop_spec(spec).param_shapes()):
        if "W" not in shapes or len(shapes["W"]) != 2:
            continue
        fan_in, units = shapes["W"]
        a, w, g = (rng.standard_normal(shape, dtype=np.float32) for shape in ((batch, fan_in), (fan_in, units),
                                                                                (batch, units)))
        total += _median_time(lambda: a @ w) + _median_time(lambda: a.T @ g)
        total += _median_time(lambda: g @ w.T) if index else 0.0
    return total


def conv_parts(spec, batch: int) -> dict[str, float]:
    """Seconds of the conv layers' parts timed alone on random float32 operands of the step's shapes: the GEMMs
    (forward [patches, 1] @ [W; b], weight gradient [patches, 1]ᵀ @ δ, and δ @ Wᵀ for all but the first layer with
    parameters), im2col (one copy of every window from a strided view), col2im (kh·kw strided adds) and the
    pooling layers' forward reductions, with the conv GEMMs' FLOPs. The backend runs each of these chunk by chunk; here each is one call."""
    from numpy.lib.stride_tricks import sliding_window_view

    from backprop.spec import Conv2DLayer

    rng = np.random.default_rng(0)
    parts = {"gemm_s": 0.0, "im2col_s": 0.0, "col2im_s": 0.0, "pool_s": 0.0, "gemm_flops": 0}
    net = backprop_spec(spec)
    first = True
    for layer, shape, out in zip(net.layers, net.input_shapes, net.shapes):
        if layer.type in ("max_pool2d", "avg_pool2d"):
            parts["pool_s"] += pool_seconds(layer, shape, out, batch, rng)
        if not isinstance(layer, Conv2DLayer):
            first = first and not layer.param_shapes(shape)
            continue
        (kh, kw), (sh, sw), (height, width, filters) = layer.kernel_size, layer.strides, out
        rows, k = batch * height * width, kh * kw * shape[2]
        image = rng.standard_normal((batch, shape[0] + kh - 1, shape[1] + kw - 1, shape[2]), dtype=np.float32)
        windows = sliding_window_view(image, (kh, kw), axis=(1, 2))[:, ::sh, ::sw][:, :height, :width]
        columns = np.ones((rows, k + 1), dtype=np.float32)
        patches = columns[:, :-1].reshape(batch, height, width, kh, kw, shape[2])
        parts["im2col_s"] += _median_time(lambda: np.copyto(patches, windows.transpose(0, 1, 2, 4, 5, 3)))
        weights, delta = (rng.standard_normal(size, dtype=np.float32) for size in ((k + 1, filters), (rows, filters)))
        parts["gemm_s"] += _median_time(lambda: columns @ weights) + _median_time(lambda: columns.T @ delta)
        parts["gemm_flops"] += 2 * 2 * rows * (k + 1) * filters
        if not first:
            parts["gemm_s"] += _median_time(lambda: delta @ weights[:-1].T)
            parts["gemm_flops"] += 2 * rows * k * filters
            gradient = np.zeros_like(image)
            patch_grads = rng.standard_normal((batch, height, width, kh, kw, shape[2]), dtype=np.float32)

            def col2im():
                for i in range(kh):
                    for j in range(kw):
                        gradient[:, i:i + height * sh:sh, j:j + width * sw:sw] += patch_grads[:, :, :, i, j]

            parts["col2im_s"] += _median_time(col2im)
        first = False
    return parts


def pool_seconds(layer, shape, out, batch: int, rng) -> float:
    """Seconds of one pooling layer's forward alone: the max (or mean) over a strided view of every window."""
    from numpy.lib.stride_tricks import sliding_window_view

    (ph, pw), (sh, sw) = layer.pool_size, layer.strides
    image = rng.standard_normal((batch, *shape), dtype=np.float32)
    windows = sliding_window_view(image, (ph, pw), axis=(1, 2))[:, ::sh, ::sw][:, :out[0], :out[1]]
    reduce = np.max if layer.type == "max_pool2d" else np.mean
    result = np.empty((batch, *out), dtype=np.float32)
    return _median_time(lambda: reduce(windows, axis=(4, 5), out=result))


def conv_profile(specs: list[tuple[str, dict, int]], peak_gflops: float) -> pd.DataFrame:
    """For each convolutional model: the whole NumPy step, its conv layers' GEMMs, im2col and col2im timed alone
    (:func:`conv_parts`), and the conv GEMMs' rate as a share of the GEMM peak ``peak_gflops``."""
    import backprop
    from backprop.datasets import random_batch

    rows = []
    for name, spec, batch in specs:
        model = backprop.build(spec, backend="numpy", dtype="float32", seed=0)
        Xn, yn = model.prepare_batch(*random_batch(spec, batch, np.random.default_rng(0)))
        step = _median_time(lambda: model.native_train_step(Xn, yn), blocks=5)
        parts = conv_parts(spec, batch)
        rate = parts["gemm_flops"] / parts["gemm_s"] / 1e9
        rows.append({"model": name, "batch": batch, "step ms": step * 1e3,
                     "conv GEMMs alone ms": parts["gemm_s"] * 1e3, "im2col ms": parts["im2col_s"] * 1e3,
                     "col2im ms": parts["col2im_s"] * 1e3, "pooling forward ms": parts["pool_s"] * 1e3,
                     "dense GEMMs alone ms": dense_gemms(spec, batch) * 1e3,
                     "conv GEMM GFLOP/s": rate, "% of GEMM peak": 100 * rate / peak_gflops,
                     "step GFLOP/s": backprop_spec(spec).flops_per_step(batch) / step / 1e9})
    return pd.DataFrame(rows)


def conv_findings(convs: pd.DataFrame) -> str:
    """Where the NumPy conv step's time goes, from the measured parts (:func:`conv_profile`), and why torch's
    convolutions are faster."""
    lines = []
    for _, row in convs.iterrows():
        parts = {"conv GEMMs": row["conv GEMMs alone ms"], "col2im": row["col2im ms"], "im2col": row["im2col ms"],
                 "pooling forward": row["pooling forward ms"], "dense GEMMs": row["dense GEMMs alone ms"]}
        shares = ", ".join(f"{name} {ms:.1f} ms ({ms / row['step ms']:.0%})" for name, ms in parts.items())
        lines.append(f"- **{row['model']}** (batch {row['batch']}, step {row['step ms']:.1f} ms): {shares}; the conv "
                     f"GEMMs run at {row['% of GEMM peak']:.0f} % of the GEMM peak.")
    return "\n".join([
        "### Why NumPy does not win on the CNNs\n", *lines, "",
        "- **Skinny GEMMs.** A conv layer's GEMM is (positions × kh·kw·C_in + 1) @ (kh·kw·C_in + 1 × filters): its "
        "output is only `filters` columns wide (6 and 16 in LeNet-5, 50 and 100 in cifar-cnn), too narrow for "
        "OpenBLAS's blocking to reach the peak that a square 2048² GEMM does. torch runs oneDNN's direct "
        "convolution kernels, blocked over channels and pixels for this shape.",
        "- **Single-threaded memory passes.** im2col (a copy of every window), col2im (kh·kw strided adds of "
        "dL/dpatches back onto the input) and the pooling reductions are NumPy element-wise passes: one thread, "
        "bound by memory traffic, while the second core idles. In LeNet-5 they cost more than its GEMMs.",
        "- **What would close the gap** (not done): dL/da as one more GEMM (a transposed convolution: im2col of the "
        "padded δ with the flipped kernel) instead of col2im's strided adds, so BLAS threads it; larger column "
        "chunks for wider GEMMs where the cache allows; fused pooling + relu passes.", ""])


def gemm_peak_gflops(size: int = 2048) -> float:
    """The float32 GEMM rate of NumPy's BLAS on a size² matmul, as the benchmark's peak cell measures it."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    return 2 * size ** 3 / _median_time(lambda: a @ b, blocks=5) / 1e9


def backprop_spec(spec: dict):
    from backprop.spec import as_spec

    return as_spec(spec)


def phase_profile(specs: list[tuple[str, dict, int]]) -> pd.DataFrame:
    """Per-phase median times (µs) of the current NumPy step for each model, through the NumPy model's public
    profiling entry :meth:`backends.numpy.model.Model.phase_steps`."""
    import backprop
    from backprop.datasets import random_batch

    rows = []
    for name, spec, batch in specs:
        model = backprop.build(spec, backend="numpy", dtype="float32", seed=0)
        Xn, yn = model.prepare_batch(*random_batch(spec, batch, np.random.default_rng(0)))
        step = _median_time(lambda: model.native_train_step(Xn, yn))
        phases = model.phase_steps(Xn, yn)
        forward, loss = _median_time(phases["forward"]), _median_time(phases["loss"])
        backward = _median_time(phases["backward"]) - forward - loss
        fused = phases["optimizer"] is None
        optimizer = 0.0 if fused else _median_time(phases["optimizer"])
        gemm = dense_gemms(spec, batch)
        flops = backprop_spec(spec).flops_per_step(batch)
        rows.append({"model": name, "batch": batch, "optimizer": spec["optimizer"]["name"],
                     "step µs": step * 1e6, "forward µs": forward * 1e6, "loss µs": loss * 1e6,
                     "backward µs": backward * 1e6,
                     "optimizer µs": "fused into backward GEMM" if fused else f"{optimizer * 1e6:.1f}",
                     "GEMMs alone µs": gemm * 1e6, "non-GEMM share": f"{max(0.0, 1 - gemm / step):.0%}",
                     "GFLOP/s": flops / step / 1e9})
    return pd.DataFrame(rows)


def history(revisions: list[tuple[str, str]], specs: list[tuple[str, dict, int]], threads: int,
            rounds: int = 3) -> pd.DataFrame:
    """Median step time (µs) of each model at each git revision of the repository.

    The revisions are timed in ``rounds`` interleaved rounds, each in a fresh process, and each cell keeps its
    best round: on a shared machine a whole process sometimes runs in a slow mode, which one round cannot tell
    from a slower revision.
    """
    root = Path(__file__).resolve().parent.parent
    columns: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        trees = {}
        for revision, label in revisions:
            tree = Path(scratch) / revision
            subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", str(tree), revision],
                           check=True, capture_output=True)
            trees[revision] = tree
        try:
            for _ in range(rounds):
                for revision, label in revisions:
                    env = {**os.environ, "PYTHONPATH": str(trees[revision])}
                    output = subprocess.run([sys.executable, "-c", STEP_TIMER, json.dumps(specs), str(threads)],
                                            check=True, capture_output=True, text=True, env=env,
                                            cwd=scratch).stdout
                    column = columns.setdefault(f"{label} ({revision[:7]})", {})
                    for name, seconds in json.loads(output).items():
                        column[name] = min(column.get(name, math.inf), seconds * 1e6)
        finally:
            for tree in trees.values():
                subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(tree)],
                               capture_output=True)
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
    conv_specs = [(name, models[name].spec, batch) for name, batch in CONV_SIZES if name in models]
    with threadpool_limits(args.threads):
        phases = phase_profile(specs)
        peak = gemm_peak_gflops()
        convs = conv_profile(conv_specs, peak)
    revisions = [tuple(item.split(":", 1)) for item in args.history.split(",") if item]
    out = Path(args.out)
    results_path = out / "results.csv"
    sections = ["# NumPy backend performance profile\n",
                f"Generated by `python -m benchmarks.numpy_profile {' '.join(argv or sys.argv[1:])}` "
                f"(do not edit by hand); float32, {args.threads} BLAS threads, median of 7 calibrated blocks.\n"]
    if results_path.exists():
        sections += targets(load(out))
    sections += ["## Where the time goes now\n",
                phases.to_markdown(index=False, floatfmt=".1f") + "\n",
                "## The convolutional step\n",
                f"Each conv layer's parts timed alone at the step's shapes (one call each; the backend runs them "
                f"chunk by chunk in a cache-sized buffer), beside the whole step. GEMM peak measured here: "
                f"{peak:.0f} GFLOP/s (float32 2048² matmul). Target: the conv GEMMs at ≥ 70 % of it on cifar-cnn.\n",
                convs.to_markdown(index=False, floatfmt=".1f") + "\n" if not convs.empty else "_no conv model_\n",
                conv_findings(convs) if not convs.empty else ""]
    if revisions:
        table = history(revisions, specs, args.threads)
        first = table.columns[0]
        speedup = table.apply(lambda column: table[first] / column).round(2)
        sections += ["## What each optimization bought (whole train step, µs)\n",
                     table.to_markdown(floatfmt=".1f") + "\n",
                     "Speed-up over the first revision:\n", speedup.to_markdown() + "\n",
                     NOTES]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "performance.md"
    temporary = path.with_suffix(".tmp")
    temporary.write_text("\n".join(sections))
    os.replace(temporary, path)
    print(path.read_text())


if __name__ == "__main__":
    main()
