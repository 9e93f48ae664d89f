"""Every adapter's CNN agrees with the NumPy reference within DESIGN.md's tolerances (never widened).

Gradients of fixed CNNs covering every layer option in float64 and float32; 100-step trajectories with every
optimizer; random valid CNN specs; every execution mode; predictions on odd batch sizes; and the NumPy backend's
im2col chunking paths.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import backprop
from backends.numpy.layers import conv as numpy_conv
from backprop.agreement import CNNS, gradient_agreement, trajectory_agreement
from backprop.datasets import random_batch
from backprop.tolerances import TOLERANCES, compare

from .conftest import ADAPTERS, modes_of
from .helpers import cnn_specs, kink_free_batch
from .test_agreement import OPTIMIZERS, assert_agree

adapters = pytest.mark.parametrize("backend", ADAPTERS, indirect=True)


def batch_for(spec, seed, n=6):
    return kink_free_batch(spec, np.random.default_rng(seed), n=n, seed=seed)


@adapters
@pytest.mark.parametrize("dtype", ["float64", pytest.param("float32", marks=pytest.mark.slow)])
@pytest.mark.parametrize("name", list(CNNS))
def test_cnn_gradients_agree_with_numpy(name, dtype, backend):
    spec = CNNS[name]
    X, y = batch_for(spec, 3)
    assert_agree(gradient_agreement(spec, X, y, dtype=dtype, seed=3, backends=[backend]))


@adapters
@pytest.mark.parametrize("dtype", ["float64", pytest.param("float32", marks=pytest.mark.slow)])
@pytest.mark.parametrize("optimizer", [pytest.param(optimizer, id=name, marks=[pytest.mark.slow]
                                                   if name in ("momentum", "nesterov") else [])
                                      for optimizer, name in zip(OPTIMIZERS, ["sgd", "momentum", "nesterov", "adam"])])
def test_cnn_trajectories_agree_over_100_steps(optimizer, dtype, backend):
    spec = {**CNNS["lenet-like"], "optimizer": optimizer}
    X, y = random_batch(spec, 32, np.random.default_rng(1))
    assert_agree(trajectory_agreement(spec, X, y, steps=100, batch_size=8, dtype=dtype, seed=1,
                                      backends=[backend]))


def check_random_cnn(spec, seed, backend, dtype="float64"):
    X, y = batch_for(spec, seed, n=4)
    assert_agree(gradient_agreement(spec, X, y, dtype=dtype, seed=seed, backends=[backend]))


@adapters
@settings(max_examples=5, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=cnn_specs(), seed=st.integers(0, 1000))
def test_random_cnn_specs_agree(spec, seed, backend):
    check_random_cnn(spec, seed, backend)


@pytest.mark.slow
@adapters
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=cnn_specs(), seed=st.integers(0, 1000), dtype=st.sampled_from(["float64", "float32"]))
def test_random_cnn_specs_agree_sweep(spec, seed, dtype, backend):
    check_random_cnn(spec, seed, backend, dtype)


@adapters
def test_cnn_predictions_agree_on_odd_batch_sizes(backend):
    spec = CNNS["strided-same"]
    reference = backprop.build(spec, backend="numpy", dtype="float64", seed=0)
    model = backprop.build(spec, backend=backend, dtype="float64", seed=0)
    tolerance = TOLERANCES[("gradients", "float64")]
    for n in (1, 3, 11):
        X, y = random_batch(spec, n, np.random.default_rng(n))
        assert compare(model.predict(X), reference.predict(X), tolerance).passed, n
        assert compare(model.evaluate(X, y)["loss"], reference.evaluate(X, y)["loss"], tolerance).passed, n


@adapters
@pytest.mark.parametrize("budget", [150_000, 1], ids=["several-samples-a-chunk", "row-blocks"])
def test_numpy_im2col_chunkings_agree_with_the_adapters(budget, backend, monkeypatch):
    monkeypatch.setattr(numpy_conv, "COLUMN_BUDGET_BYTES", budget)
    spec = CNNS["lenet-like"]
    X, y = batch_for(spec, 5, n=8)
    assert_agree(gradient_agreement(spec, X, y, dtype="float64", seed=5, backends=[backend]))


@pytest.mark.slow
@adapters
def test_every_mode_follows_the_numpy_cnn_trajectory(backend):
    spec = {**CNNS["lenet-like"], "optimizer": OPTIMIZERS[3]}
    X, y = random_batch(spec, 24, np.random.default_rng(0))
    tolerance = TOLERANCES[("trajectory", "float32")]
    reference = backprop.build(spec, backend="numpy", dtype="float32", seed=0)
    expected = [reference.train_step(X[i:i + 8], y[i:i + 8]) for i in (0, 8, 16) * 10]
    for mode in modes_of(backend):
        model = backprop.build(spec, backend=backend.split(":")[0], dtype="float32", seed=0, mode=mode)
        losses = [model.train_step(X[i:i + 8], y[i:i + 8]) for i in (0, 8, 16) * 10]
        assert compare(losses, expected, tolerance).passed, mode
        for got, want in zip(model.get_params(), reference.get_params()):
            for key in want:
                assert compare(got[key], want[key], tolerance).passed, (mode, key)
