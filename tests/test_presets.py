"""Every preset reaches its stated result, on every backend, from the same suite-owned weights."""

import pytest

from backprop.presets import PRESETS, train_preset

from .conftest import ALL_BACKENDS


# In the slow sweep: presets of thousands of one-batch epochs (10-25 s on an adapter, per-epoch dispatch), the digits
# presets on the adapters, and LeNet-5 everywhere (10-40 s a backend).
LONG = ("xor-mse", "xor-seed", "xor-bce", "digits", "digits-cnn")


def slow(name: str, backend: str) -> bool:
    return name == "mnist-lenet5" or (name in LONG and backend != "numpy")


CASES = [pytest.param(name, backend, marks=[pytest.mark.slow] if slow(name, backend) else [])
         for name in PRESETS for backend in ALL_BACKENDS]


@pytest.mark.parametrize("name, backend", CASES, indirect=["backend"])
def test_preset_reaches_its_goal(name, backend):
    _, history, outcome = train_preset(name, backend=backend, dtype="float32")
    assert outcome.passed, f"{name} on {backend}: {outcome.summary}; goal {PRESETS[name].goal}"
    assert history["loss"][-1] < history["loss"][0]


def test_linear_regression_recovers_line_in_float64():
    _, _, outcome = train_preset("linear", backend="numpy", dtype="float64")
    assert abs(outcome.metrics["slope"] - 2.0) < 1e-3 and abs(outcome.metrics["intercept"] - 3.0) < 1e-2
