"""Cross-backend agreement: same spec, same initial weights, same batches, compared against a reference backend.

- :func:`gradient_agreement`: one ``loss_and_grads`` call per backend; every parameter's gradient and the loss.
- :func:`trajectory_agreement`: N optimizer steps on identical batches; final parameters and the per-step losses.
- :func:`agreement_report`: both, as one object that prints as Markdown.

Rows compare ``a`` (a backend) against ``b`` (the reference) under DESIGN.md section 4 (:mod:`.tolerances`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from .registry import available_backends, build
from .spec import NetworkSpec, as_spec
from .tolerances import TOLERANCES, Tolerance, compare

# Every hidden activation (leaky_relu with a slope no framework defaults to) and every output/loss pairing.
HIDDEN_ACTIVATIONS = [("linear", {}), ("sigmoid", {}), ("tanh", {}), ("relu", {}),
                      ("leaky_relu", {"negative_slope": 0.2}), ("prelu", {})]
OUTPUT_LOSSES = [("linear", "mse"), ("sigmoid", "mse"), ("tanh", "mse"), ("relu", "mse"),
                 ("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy")]



def _conv(filters, kernel, strides=1, padding="valid", activation="relu", **options) -> dict:
    return {"type": "conv2d", "filters": filters, "kernel_size": kernel, "strides": strides, "padding": padding,
            "activation": activation, **options}


def _pool(kind, size, strides=None, padding="valid") -> dict:
    return {"type": f"{kind}_pool2d", "pool_size": size, "padding": padding,
            **({} if strides is None else {"strides": strides})}


# CNNs that between them use each option of each layer at least once: strides 1-3, both paddings with odd and even
# totals, non-square kernels, pools and inputs, overlapping and gapped windows, every activation on a conv layer,
# a pooling first, each loss.
CNNS = {
    "lenet-like": {"input_shape": [12, 12, 1], "layers": [
        _conv(4, 5, padding="same"), _pool("max", 2), _conv(6, [3, 3]), _pool("avg", 2, 2, "same"),
        {"type": "flatten"}, {"units": 8, "activation": "relu"}, {"units": 3, "activation": "softmax"}],
        "loss": "cross_entropy"},
    "strided-same": {"input_shape": [9, 8, 2], "layers": [
        _conv(3, [3, 2], [2, 1], "same", "tanh"), _pool("max", [2, 3], [1, 2], "same"),
        _conv(2, 2, 3, "same", "leaky_relu", negative_slope=0.2), {"type": "flatten"},
        {"units": 2, "activation": "sigmoid"}], "loss": "binary_cross_entropy"},
    "overlapping-avg": {"input_shape": [7, 9, 3], "layers": [
        _conv(4, [1, 3], 1, "same", "prelu"), _pool("avg", 3, 1, "same"), _conv(2, 2, 2, "valid", "sigmoid"),
        _pool("max", 2, 1), {"type": "flatten"}, {"units": 3, "activation": "linear"}], "loss": "mse"},
    "pool-first": {"input_shape": [10, 7, 2], "layers": [
        _pool("avg", 2, [2, 1], "same"), _conv(3, 3, 1, "valid", "linear"), _pool("max", [1, 2], [1, 2]),
        {"type": "flatten"}, {"units": 4, "activation": "softmax"}], "loss": "cross_entropy"},
}

# Every optimizer, with and without weight decay and each schedule (DESIGN.md section 7).
OPTIMIZER_CASES = {
    "sgd": {"name": "sgd", "lr": 0.05},
    "momentum": {"name": "momentum", "lr": 0.02, "momentum": 0.9},
    "nesterov": {"name": "momentum", "lr": 0.02, "momentum": 0.8, "nesterov": True},
    "adam": {"name": "adam", "lr": 0.005, "beta1": 0.85, "beta2": 0.995, "eps": 1e-7},
    "rmsprop": {"name": "rmsprop", "lr": 0.003},
    "rmsprop-centered-momentum": {"name": "rmsprop", "lr": 0.002, "rho": 0.9, "momentum": 0.5, "centered": True},
    "adagrad": {"name": "adagrad", "lr": 0.05, "initial_accumulator": 0.1},
    "adamw": {"name": "adamw", "lr": 0.005, "weight_decay": 0.05},
    "sgd-weight-decay": {"name": "sgd", "lr": 0.05, "weight_decay": 0.01},
    "momentum-weight-decay": {"name": "momentum", "lr": 0.02, "nesterov": True, "weight_decay": 0.02},
    "rmsprop-weight-decay": {"name": "rmsprop", "lr": 0.003, "weight_decay": 0.01},
    "adagrad-weight-decay": {"name": "adagrad", "lr": 0.05, "weight_decay": 0.01},
    "sgd-exponential-staircase": {"name": "sgd", "lr": 0.1, "schedule": {"name": "exponential", "decay_rate": 0.5,
                                                                           "decay_steps": 30, "staircase": True}},
    "adam-exponential": {"name": "adam", "lr": 0.01, "schedule": {"name": "exponential", "decay_rate": 0.3,
                                                                    "decay_steps": 40}},
    "adamw-cosine": {"name": "adamw", "lr": 0.01, "weight_decay": 0.02,
                     "schedule": {"name": "cosine", "decay_steps": 60, "alpha": 0.1}},
    "momentum-step": {"name": "momentum", "lr": 0.03, "schedule": {"name": "step", "step_size": 25, "gamma": 0.5}},
    "rmsprop-cosine": {"name": "rmsprop", "lr": 0.005, "momentum": 0.3, "schedule": {"name": "cosine",
                                                                                      "decay_steps": 50}},
    "adagrad-step": {"name": "adagrad", "lr": 0.1, "schedule": {"name": "step", "step_size": 20, "gamma": 0.7}},
}

# A network with every training-mode layer: batch_norm after a dense and after a conv layer, dropout on a vector and
# on an image.
TRAINING_LAYERS = {"input_shape": [8, 7, 2], "layers": [
    _conv(4, 3, 1, "same", "relu"), {"type": "batch_norm", "momentum": 0.2, "eps": 1e-3},
    {"type": "dropout", "rate": 0.25}, _pool("max", 2), {"type": "flatten"},
    {"units": 12, "activation": "tanh"}, {"type": "batch_norm"}, {"type": "dropout", "rate": 0.4},
    {"units": 3, "activation": "softmax"}], "loss": "cross_entropy"}

COLUMNS = ["pair", "layer", "param", "max_abs_diff", "max_rel_err", "norm_ratio", "tolerance_used", "rtol", "atol",
           "passed"]


def _backends(backends: Iterable[str] | None, reference: str) -> list[str]:
    names = available_backends() if backends is None else list(backends)
    return [name for name in names if name != reference]


def _rows(pair: str, got: Sequence[dict], expected: Sequence[dict], loss: tuple[Any, Any],
          tolerance: Tolerance) -> list[dict]:
    rows = []
    items = [("-", "loss", *loss)] + [(index, key, layer_got[key], layer_expected[key])
                                      for index, (layer_got, layer_expected) in enumerate(zip(got, expected))
                                      for key in layer_expected]
    for layer, param, a, b in items:
        result = compare(a, b, tolerance)
        rows.append({"pair": pair, "layer": layer, "param": param, "max_abs_diff": result.max_abs_diff,
                     "max_rel_err": result.max_rel_err, "norm_ratio": result.norm_ratio,
                     "tolerance_used": result.tolerance_used, "rtol": tolerance.rtol, "atol": tolerance.atol, "passed": result.passed})
    return rows


def gradient_agreement(spec: NetworkSpec | dict, X: Any, y: Any, dtype: str = "float64", seed: int = 0,
                       backends: Iterable[str] | None = None, reference: str = "numpy") -> pd.DataFrame:
    """Loss and gradients of each backend vs ``reference`` at the same seeded weights and batch."""
    spec = as_spec(spec)
    expected_loss, expected = build(spec, reference, dtype, seed).loss_and_grads(X, y)
    rows = []
    for name in _backends(backends, reference):
        loss, grads = build(spec, name, dtype, seed).loss_and_grads(X, y)
        rows += _rows(f"{name} vs {reference}", grads, expected, (loss, expected_loss),
                      TOLERANCES[("gradients", dtype)])
    return pd.DataFrame(rows, columns=COLUMNS)


def batch_schedule(n_samples: int, batch_size: int, steps: int, seed: int) -> list[np.ndarray]:
    """Index arrays for ``steps`` mini-batches: seeded permutations of the samples, consumed in order."""
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(n_samples)
                            for _ in range(-(-steps * batch_size // n_samples))])
    return [order[i * batch_size:(i + 1) * batch_size] for i in range(steps)]


def run_trajectory(spec: NetworkSpec, backend: str, X: np.ndarray, y: np.ndarray, schedule: list[np.ndarray],
                   dtype: str, seed: int, mode: str | None = None) -> tuple[np.ndarray, list[dict]]:
    """Per-step losses and final parameters of ``backend`` trained on ``schedule``."""
    model = build(spec, backend, dtype, seed, mode)
    losses = np.array([model.train_step(X[index], y[index]) for index in schedule])
    return losses, model.get_params()


def trajectory_agreement(spec: NetworkSpec | dict, X: Any, y: Any, steps: int = 100, batch_size: int = 16,
                         dtype: str = "float64", seed: int = 0, backends: Iterable[str] | None = None,
                         reference: str = "numpy") -> pd.DataFrame:
    """Final parameters and the per-step loss curve after ``steps`` optimizer steps, vs ``reference``."""
    spec = as_spec(spec)
    X, y = np.asarray(X), np.asarray(y)
    schedule = batch_schedule(len(X), min(batch_size, len(X)), steps, seed)
    expected_losses, expected = run_trajectory(spec, reference, X, y, schedule, dtype, seed)
    rows = []
    for name in _backends(backends, reference):
        losses, params = run_trajectory(spec, name, X, y, schedule, dtype, seed)
        rows += _rows(f"{name} vs {reference}", params, expected, (losses, expected_losses),
                      TOLERANCES[("trajectory", dtype)])
    return pd.DataFrame(rows, columns=COLUMNS)


@dataclass
class AgreementReport:
    """Gradient and trajectory agreement of one spec, dtype and seed."""

    gradients: pd.DataFrame
    trajectory: pd.DataFrame
    steps: int

    @property
    def passed(self) -> bool:
        return bool(self.gradients["passed"].all() and self.trajectory["passed"].all())

    def to_markdown(self) -> str:
        return (f"Gradients (one batch, same weights)\n\n{self.gradients.to_markdown(index=False)}\n\n"
                f"Trajectory ({self.steps} optimizer steps, same batches; 'loss' compares the per-step curve)\n\n"
                f"{self.trajectory.to_markdown(index=False)}\n\n"
                f"{'ALL AGREE' if self.passed else 'DISAGREEMENT: see rows with passed = False'}")


def agreement_report(spec: NetworkSpec | dict, X: Any, y: Any, dtype: str = "float64", seed: int = 0,
                     backends: Iterable[str] | None = None, steps: int = 100,
                     reference: str = "numpy") -> AgreementReport:
    """Gradients on ``X, y`` and a ``steps``-step trajectory on mini-batches of it, for every backend."""
    return AgreementReport(gradient_agreement(spec, X, y, dtype, seed, backends, reference),
                           trajectory_agreement(spec, X, y, steps, 16, dtype, seed, backends, reference), steps)
