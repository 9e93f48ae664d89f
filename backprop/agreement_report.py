"""Writes ``reports/gradient_agreement.md`` and ``reports/loss_curves.png``: the suite's proof of agreement.

    python -m backprop report [--out reports]

Sections: gradients for every hidden activation × (output, loss) pairing in float64 and float32; trajectories of
sgd, momentum, nesterov and adam; convolutional networks covering every conv and pooling option (gradients in both
dtypes and a trajectory); the drift between the frameworks' *native* default optimizers (measured, never a
tolerance); loss curves of all backends on the digits preset.
"""

from __future__ import annotations

import os
import platform
import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from .agreement import (CNNS, HIDDEN_ACTIVATIONS, OUTPUT_LOSSES, batch_schedule, gradient_agreement,
                        run_trajectory, trajectory_agreement)
from .datasets import random_batch
from .presets import get_preset
from .registry import available_backends
from .spec import as_spec, mlp_spec
from .tolerances import compare, TOLERANCES

OPTIMIZERS = {"sgd": {"name": "sgd", "lr": 0.05}, "momentum": {"name": "momentum", "lr": 0.02},
              "nesterov": {"name": "momentum", "lr": 0.02, "nesterov": True}, "adam": {"name": "adam", "lr": 0.005}}


def _network(hidden: str, options: dict, output: str, loss: str, optimizer: dict | None = None) -> dict:
    """The report's 5 → 8 → 6 → 3 network."""
    return mlp_spec([5, 8, 6, 3], hidden, output, loss, optimizer or {"name": "sgd"}, **options)


def _batch(spec: dict, n: int) -> tuple[np.ndarray, np.ndarray]:
    return random_batch(spec, n, np.random.default_rng(0))


def gradient_matrix(dtype: str, backends: list[str]) -> pd.DataFrame:
    """Fraction of the tolerance used, max |a−b| / (atol·s + rtol·|b|) (≤ 1 passes), per activation × loss × backend."""
    rows = []
    for hidden, options in HIDDEN_ACTIVATIONS:
        for output, loss in OUTPUT_LOSSES:
            spec = _network(hidden, options, output, loss)
            X, y = _batch(spec, 32)
            table = gradient_agreement(spec, X, y, dtype, 0, backends)
            rows.append({"hidden": hidden, "output / loss": f"{output} / {loss}", **_verdicts(table)})
    return pd.DataFrame(rows)


def _verdicts(table: pd.DataFrame) -> dict[str, str]:
    """Per backend: the largest fraction of the tolerance used, ✓ when every row passed."""
    return {pair.split(" ")[0]: f"{group['tolerance_used'].max():.1e} {'✓' if group['passed'].all() else '✗'}"
            for pair, group in table.groupby("pair", sort=False)}


def cnn_matrix(backends: list[str], steps: int = 100) -> pd.DataFrame:
    """Per CNN of :data:`CNNS`: gradients in float64 and float32, and a ``steps``-step momentum trajectory in
    float64, as fractions of the tolerance used per backend."""
    rows = []
    for name, spec in CNNS.items():
        X, y = _batch(spec, 8)
        checks = [(f"gradients {dtype}", gradient_agreement(spec, X, y, dtype, 0, backends)) for dtype in
                  ("float64", "float32")]
        momentum = {**spec, "optimizer": OPTIMIZERS["momentum"]}
        checks.append((f"trajectory float64, {steps} momentum steps",
                       trajectory_agreement(momentum, X, y, steps, 4, "float64", 0, backends)))
        for check, table in checks:
            rows.append({"network": name, "check": check, **_verdicts(table)})
    return pd.DataFrame(rows)


def trajectory_table(dtype: str, backends: list[str], steps: int = 100) -> pd.DataFrame:
    rows = []
    X, y = _batch(_network("tanh", {}, "softmax", "cross_entropy"), 64)
    for label, optimizer in OPTIMIZERS.items():
        table = trajectory_agreement(_network("tanh", {}, "softmax", "cross_entropy", optimizer), X, y, steps, 16,
                                     dtype, 0, backends)
        for pair, group in table.groupby("pair", sort=False):
            params = group[group["param"] != "loss"]
            rows.append({"optimizer": label, "pair": pair, "steps": steps,
                         "tolerance used (params)": params["tolerance_used"].max(),
                         "max param norm ratio": params["norm_ratio"].max(),
                         "loss curve max abs diff": group[group["param"] == "loss"]["max_abs_diff"].iloc[0],
                         "passed": bool(group["passed"].all())})
    return pd.DataFrame(rows)


# Each optimizer's native default object, at the spec's learning rate (and momentum, betas, rho, weight decay).
NATIVE_OPTIMIZERS = {"momentum": {"name": "momentum", "lr": 0.02}, "adam": {"name": "adam", "lr": 0.005},
                     "rmsprop": {"name": "rmsprop", "lr": 0.003}, "adagrad": {"name": "adagrad", "lr": 0.05},
                     "adamw": {"name": "adamw", "lr": 0.005, "weight_decay": 0.05}}


def native_drift(backends: list[str], steps: int = 200) -> pd.DataFrame:
    """Final-parameter differences after ``steps`` steps with each framework's native default optimizer."""
    X, y = _batch(_network("tanh", {}, "softmax", "cross_entropy"), 64)
    schedule = batch_schedule(len(X), 16, steps, 0)
    tolerance = TOLERANCES[("trajectory", "float64")]
    rows = []
    for label, optimizer in NATIVE_OPTIMIZERS.items():
        spec = as_spec(_network("tanh", {}, "softmax", "cross_entropy", {**optimizer, "native": True}))
        finals = {name: run_trajectory(spec, name, X, y, schedule, "float64", 0)[1] for name in backends}
        for a, b in combinations(finals, 2):
            flat_a = np.concatenate([v.ravel() for layer in finals[a] for v in layer.values()])
            flat_b = np.concatenate([v.ravel() for layer in finals[b] for v in layer.values()])
            result = compare(flat_a, flat_b, tolerance)
            rows.append({"optimizer": label, "pair": f"{a} vs {b}", "steps": steps,
                         "max abs diff": result.max_abs_diff, "norm ratio": result.norm_ratio,
                         "within float64 trajectory tolerance": result.passed})
    return pd.DataFrame(rows)


def loss_curves(backends: list[str], path: Path) -> pd.DataFrame:
    """Train the digits preset on every backend (float32) and overlay the per-epoch loss curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .presets import train_preset

    rows, figure = [], plt.figure(figsize=(7, 4.5))
    for name in backends:
        _, history, outcome = train_preset("digits", name, "float32")
        plt.plot(range(1, len(history["loss"]) + 1), history["loss"], label=name, linestyle="-" if name == "numpy"
                 else "--", linewidth=2.5 if name == "numpy" else 1.5)
        rows.append({"backend": name, "final train loss": history["loss"][-1],
                     "test accuracy": outcome.metrics["test_accuracy"], "goal (≥ 0.95) reached": outcome.passed})
    plt.yscale("log")
    plt.xlabel("epoch")
    plt.ylabel("training loss (cross-entropy)")
    plt.title(f"digits preset, float32: {get_preset('digits').description.split(': ')[1]}")
    plt.legend()
    plt.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return pd.DataFrame(rows)


def _layer_text(layer: dict) -> str:
    kind = layer.get("type", "dense")
    if kind == "dense":
        return f"dense {layer['units']} {layer.get('activation', 'linear')}"
    if kind == "conv2d":
        return (f"conv {layer['filters']}×{layer['kernel_size']}/{layer['strides']} {layer['padding']} "
                f"{layer['activation']}")
    if kind == "flatten":
        return "flatten"
    return f"{kind[:3]}-pool {layer['pool_size']}/{layer.get('strides', layer['pool_size'])} {layer['padding']}"


def _versions(backends: list[str]) -> str:
    from importlib.metadata import version

    packages = {"numpy": "numpy", "torch": "torch", "tensorflow": "tensorflow-cpu", "jax": "jax"}
    return ", ".join(f"{packages[name]} {version(packages[name])}" for name in backends) + \
        (f", keras {version('keras')}" if "tensorflow" in backends else "") + \
        (f", optax {version('optax')}" if "jax" in backends else "")


def write_report(out: str | Path = "reports") -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    backends = available_backends()
    curves = loss_curves(backends, out / "loss_curves.png")
    sections = [
        "# Gradient and trajectory agreement\n",
        f"Generated by `python -m backprop report --out {out}` (do not edit by hand). Python "
        f"{platform.python_version()}, {_versions(backends)}; {platform.machine()}, "
        f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset')}.\n",
        "Every backend starts from the suite's seeded weights and sees the same batch, and is compared with the "
        "NumPy reference under DESIGN.md's rule |a − b| ≤ atol·s + rtol·|b|, s = max(1, max|b|). Cells give the "
        "fraction of that tolerance used, max |a − b| / (atol·s + rtol·|b|) over the loss and every element of "
        "every parameter gradient (≤ 1 passes; ✓ when all pass). Network: 5 → 8 → 6 → 3, hidden activation as "
        "in the row, batch of 32.\n",
    ]
    for dtype in ("float64", "float32"):
        tolerance = TOLERANCES[("gradients", dtype)]
        sections.append(f"## Gradients, {dtype} (rtol {tolerance.rtol:g}, atol {tolerance.atol:g}·s)\n\n"
                        f"{gradient_matrix(dtype, backends).to_markdown(index=False)}\n")
    for dtype in ("float64", "float32"):
        tolerance = TOLERANCES[("trajectory", dtype)]
        sections.append(f"## Trajectories, {dtype}: 100 steps, tanh 5-8-6-3 softmax, batches of 16 "
                        f"(rtol {tolerance.rtol:g}, atol {tolerance.atol:g}·s)\n\n"
                        f"{trajectory_table(dtype, backends).to_markdown(index=False)}\n")
    sections.append("## Convolutional networks\n\nEach network below uses conv2d, max and average pooling and flatten "
                    "with the options named; together they cover strides 1-3, 'valid' and 'same' padding with odd "
                    "and even totals, non-square windows and inputs, overlapping and gapped windows, every "
                    "activation on a conv layer, a pooling as the first layer and each loss "
                    "(`backprop/agreement.py`, `CNNS`). Batch of 8; cells as above.\n\n"
                    + "\n".join(f"- `{name}`: input {spec['input_shape']}, " + ", ".join(
                        _layer_text(layer) for layer in spec["layers"]) + f"; {spec['loss']}"
                        for name, spec in CNNS.items())
                    + f"\n\n{cnn_matrix(backends).to_markdown(index=False)}\n")
    sections.append("## Native default optimizers: measured drift, not a tolerance\n\n"
                    "`optimizer.native = true` runs each framework's own default optimizer object with the spec's "
                    "lr, betas, momentum, rho and weight decay, everything else (epsilon, where epsilon sits, the "
                    "initial accumulator, the decay form) at the framework's default; NumPy runs the spec's formula. "
                    "Float64, 200 steps. DESIGN.md section 7 explains each difference.\n\n"
                    f"{native_drift(backends).to_markdown(index=False)}\n")
    sections.append("## Loss curves on digits (float32)\n\n![loss curves](loss_curves.png)\n\n"
                    f"{curves.to_markdown(index=False)}\n")
    path = out / "gradient_agreement.md"
    temporary = path.with_suffix(".md.tmp")
    temporary.write_text("\n".join(sections))
    os.replace(temporary, path)
    return path


if __name__ == "__main__":
    print(write_report(sys.argv[1] if len(sys.argv) > 1 else "reports"))
