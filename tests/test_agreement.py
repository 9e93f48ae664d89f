"""Cross-backend agreement with the NumPy reference, within DESIGN.md's tolerances (never widened).

Each adapter, from the suite's weights and the same batch: gradients for every hidden activation × output/loss ×
dtype; 100-step trajectories for sgd, momentum, nesterov and adam; random valid specs; every execution mode.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import backprop
from backprop.agreement import (HIDDEN_ACTIVATIONS, OUTPUT_LOSSES, batch_schedule, gradient_agreement,
                                run_trajectory, trajectory_agreement)
from backprop.datasets import random_batch
from backprop.spec import as_spec, mlp_spec
from backprop.tolerances import TOLERANCES, compare

from .conftest import ADAPTERS, modes_of
from .helpers import kink_free_batch

adapters = pytest.mark.parametrize("backend", ADAPTERS, indirect=True)


def assert_agree(table):
    failed = table[~table["passed"]]
    assert failed.empty, "\n" + failed.to_string()
    assert len(table) > 1


@adapters
@pytest.mark.parametrize("dtype", ["float64", pytest.param("float32", marks=pytest.mark.slow)])
@pytest.mark.parametrize("output, loss", OUTPUT_LOSSES)
@pytest.mark.parametrize("hidden, options", HIDDEN_ACTIVATIONS)
def test_gradients_agree_with_numpy(hidden, options, output, loss, dtype, backend, rng):
    spec = mlp_spec([5, 7, 6, 3], hidden, output, loss, **options)
    X, y = kink_free_batch(spec, rng, seed=2)
    assert_agree(gradient_agreement(spec, X, y, dtype=dtype, seed=2, backends=[backend]))


OPTIMIZERS = [{"name": "sgd", "lr": 0.05}, {"name": "momentum", "lr": 0.02, "momentum": 0.9},
              {"name": "momentum", "lr": 0.02, "momentum": 0.8, "nesterov": True},
              {"name": "adam", "lr": 0.005, "beta1": 0.85, "beta2": 0.995, "eps": 1e-7}]


@adapters
@pytest.mark.parametrize("dtype", ["float64", pytest.param("float32", marks=pytest.mark.slow)])
@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=["sgd", "momentum", "nesterov", "adam"])
def test_trajectories_agree_over_100_steps(optimizer, dtype, backend, rng):
    spec = {**mlp_spec([6, 10, 8, 4], "prelu", "softmax", "cross_entropy"), "optimizer": optimizer}
    X, y = random_batch(spec, 64, rng)
    assert_agree(trajectory_agreement(spec, X, y, steps=100, batch_size=16, dtype=dtype, seed=1,
                                      backends=[backend]))


@adapters
@pytest.mark.parametrize("name", ["adam", "momentum"])
def test_native_optimizer_trains(name, backend, rng):
    spec = {**mlp_spec([6, 10, 4], "tanh", "softmax", "cross_entropy"), "optimizer": {"name": name, "lr": 0.01,
                                                                                  "native": True}}
    model = backprop.build(spec, backend=backend, dtype="float64", seed=0)
    X, y = random_batch(spec, 64, rng)
    losses = [model.train_step(X, y) for _ in range(30)]
    assert losses[-1] < losses[0]


@adapters
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_stays_put(dtype, backend, rng):
    spec = {**mlp_spec([5, 6, 3], "prelu", "softmax", "cross_entropy"), "optimizer": "adam"}
    model = backprop.build(spec, backend=backend, dtype=dtype, seed=0)
    X, y = random_batch(spec, 8, rng)
    model.train_step(X, y)
    _, grads = model.loss_and_grads(X, y)
    arrays = [value for layer in model.get_params() + grads for value in layer.values()] + [model.predict(X)]
    assert {array.dtype for array in arrays} == {np.dtype(dtype)}


@st.composite
def random_specs(draw):
    hidden = draw(st.lists(st.sampled_from(HIDDEN_ACTIVATIONS), min_size=0, max_size=3))
    output, loss = draw(st.sampled_from(OUTPUT_LOSSES))
    widths = draw(st.lists(st.integers(1, 32), min_size=len(hidden), max_size=len(hidden)))
    units = draw(st.integers(2 if output == "softmax" else 1, 8))
    return {"input_dim": draw(st.integers(1, 12)),
            "layers": [{"units": w, "activation": a, **o} for w, (a, o) in zip(widths, hidden)]
            + [{"units": units, "activation": output}],
            "loss": loss, "optimizer": "sgd"}


def check_random_spec(spec, seed, backend):
    rng = np.random.default_rng(seed)
    X, y = kink_free_batch(spec, rng, n=8, seed=seed)
    assert_agree(gradient_agreement(spec, X, y, dtype="float64", seed=seed, backends=[backend]))


@adapters
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=random_specs(), seed=st.integers(0, 1000))
def test_random_specs_agree(spec, seed, backend):
    check_random_spec(spec, seed, backend)


@pytest.mark.slow
@adapters
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=random_specs(), seed=st.integers(0, 1000))
def test_random_specs_agree_sweep(spec, seed, backend):
    check_random_spec(spec, seed, backend)


@pytest.mark.slow
@adapters
def test_every_mode_follows_the_numpy_trajectory(backend, rng):
    spec = as_spec({**mlp_spec([6, 10, 4], "relu", "softmax", "cross_entropy"), "optimizer": OPTIMIZERS[3]})
    X, y = random_batch(spec.to_dict(), 48, rng)
    schedule = batch_schedule(len(X), 16, 30, seed=0)
    reference_losses, reference = run_trajectory(spec, "numpy", X, y, schedule, "float32", 0)
    tolerance = TOLERANCES[("trajectory", "float32")]
    for mode in modes_of(backend):
        losses, params = run_trajectory(spec, backend.split(":")[0], X, y, schedule, "float32", 0, mode)
        assert compare(losses, reference_losses, tolerance).passed, mode
        for got, expected in zip(params, reference):
            for key in expected:
                assert compare(got[key], expected[key], tolerance).passed, (mode, key)
