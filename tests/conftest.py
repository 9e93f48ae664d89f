"""One fixture, ``backend``, parametrizes tests over every registered backend.

Locally a backend whose framework is missing is skipped with the extra to install. Under CI (``CI`` set) every
framework is installed by ``.ci/run``, so a missing one fails instead of skipping.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from backprop.registry import BACKENDS, is_installed

ALL_BACKENDS = ("numpy", "torch", "tensorflow", "jax")
ADAPTERS = ALL_BACKENDS[1:]


@pytest.fixture(params=ALL_BACKENDS)
def backend(request) -> str:
    name = request.param
    if not is_installed(name):
        message = f"{name} is not installed: pip install -c constraints.txt -e '.[{BACKENDS[name].extra}]'"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI installs all four frameworks, so nothing may skip)")
        pytest.skip(message)
    return name


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def mlp(widths, hidden="tanh", output="linear", loss="mse", optimizer="sgd", **hidden_options) -> dict:
    """A spec dict: ``widths`` = [input_dim, hidden..., output]."""
    return {"input_dim": widths[0],
            "layers": [{"units": w, "activation": hidden, **hidden_options} for w in widths[1:-1]]
            + [{"units": widths[-1], "activation": output}],
            "loss": loss, "optimizer": optimizer}


def batch_for(spec: dict, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random inputs and valid targets for ``spec``'s loss."""
    X = rng.normal(size=(n, spec["input_dim"]))
    k = spec["layers"][-1]["units"]
    if spec["loss"] == "cross_entropy":
        return X, rng.integers(0, k, n)
    if spec["loss"] == "binary_cross_entropy":
        return X, rng.uniform(0.0, 1.0, (n, k))
    return X, rng.normal(size=(n, k))


# Every hidden activation, with its options, and every (output activation, loss) pairing the spec allows.
HIDDEN_ACTIVATIONS = [("linear", {}), ("sigmoid", {}), ("tanh", {}), ("relu", {}),
                      ("leaky_relu", {"negative_slope": 0.2}), ("prelu", {})]
OUTPUT_LOSSES = [("linear", "mse"), ("sigmoid", "mse"), ("tanh", "mse"), ("relu", "mse"),
                 ("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy")]
