"""Dropout, batch_norm, the optimizers people pick and learning-rate schedules: the NumPy reference against finite
differences, every adapter against the NumPy reference (DESIGN.md section 7), and the training/inference contract."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import backprop
from backprop import InputError
from backprop.agreement import OPTIMIZER_CASES, TRAINING_LAYERS, gradient_agreement, trajectory_agreement
from backprop.datasets import random_batch
from backprop.gradcheck import finite_difference_check
from backprop.spec import mlp_spec
from backprop.tolerances import TOLERANCES, compare

from .conftest import ADAPTERS, modes_of
from .helpers import cnn_specs, kink_free_batch
from .test_agreement import assert_agree

adapters = pytest.mark.parametrize("backend", ADAPTERS, indirect=True)

DENSE_TRAINING = {"input_dim": 6, "layers": [{"units": 10, "activation": "relu"}, {"type": "batch_norm"},
                                             {"type": "dropout", "rate": 0.3}, {"units": 8, "activation": "tanh"},
                                             {"type": "batch_norm", "momentum": 0.05, "eps": 1e-4},
                                             {"units": 4, "activation": "softmax"}], "loss": "cross_entropy"}
# Optimizer cases in the default run (all of them run in the slow sweep, in both dtypes).
DEFAULT_OPTIMIZERS = ("rmsprop-centered-momentum", "adagrad-weight-decay", "adamw-cosine", "momentum-step",
                      "sgd-exponential-staircase")


def mlp(optimizer: dict) -> dict:
    return {**mlp_spec([6, 10, 8, 4], "prelu", "softmax", "cross_entropy"), "optimizer": optimizer}


def with_training_layers(spec: dict, draw) -> dict:
    """``spec`` with a batch_norm and/or dropout drawn in after each conv or hidden dense layer."""
    layers = []
    for layer in spec["layers"][:-1]:
        layers.append(layer)
        if layer.get("type", "dense") in ("dense", "conv2d"):
            if draw(st.booleans()):
                layers.append({"type": "batch_norm", "momentum": draw(st.sampled_from([0.1, 0.3])),
                               "eps": draw(st.sampled_from([1e-5, 1e-3]))})
            if draw(st.booleans()):
                layers.append({"type": "dropout", "rate": draw(st.sampled_from([0.0, 0.2, 0.5]))})
    return {**spec, "layers": layers + spec["layers"][-1:]}


@st.composite
def training_specs(draw):
    """Random CNNs with training layers, smooth enough for finite differences: no kinks, no max-pool ties."""
    return with_training_layers(draw(cnn_specs(max_conv=2, activations=("tanh", "sigmoid", "linear"),
                                               pools=("avg_pool2d",))), draw)


# TRAINING_LAYERS made smooth for finite differences: tanh instead of relu, average instead of max pooling.
SMOOTH_TRAINING_LAYERS = {**TRAINING_LAYERS, "layers": [
    {**layer, "activation": "tanh"} if layer.get("type") == "conv2d" else
    {**layer, "type": "avg_pool2d"} if layer.get("type") == "max_pool2d" else layer
    for layer in TRAINING_LAYERS["layers"]]}


# ----- the NumPy reference ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", [DENSE_TRAINING, SMOOTH_TRAINING_LAYERS], ids=["dense", "conv"])
def test_dropout_and_batch_norm_gradients_match_finite_differences(spec):
    """Both batch_norm layouts (per unit, per channel over N, H, W) and dropout at one fixed mask."""
    X, y = kink_free_batch(spec, np.random.default_rng(0), n=6, seed=0, margin=1e-3, exact_zero_ok=False)
    table = finite_difference_check(spec, X, y, seed=0)
    assert set(table["param"]) >= {"gamma", "beta", "W", "b"} and table["passed"].all(), table.to_string()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=training_specs(), seed=st.integers(0, 1000))
def test_random_training_layer_specs_match_finite_differences(spec, seed):
    X, y = random_batch(spec, 4, np.random.default_rng(seed))
    table = finite_difference_check(spec, X, y, seed=seed)
    assert table["passed"].all(), table.to_string()


# ----- the training / inference contract, on every backend ----------------------------------------------------------

def state_of(model):
    return [{key: value for key, value in layer.items() if key.startswith("running")} for layer in
            model.get_params()]


def test_loss_and_grads_leaves_running_statistics_and_train_step_moves_them(backend):
    model = backprop.build(DENSE_TRAINING, backend=backend, dtype="float64", seed=0)
    X, y = random_batch(DENSE_TRAINING, 8, np.random.default_rng(0))
    before = state_of(model)
    model.loss_and_grads(X, y)
    for got, expected in zip(state_of(model), before):
        for key in expected:
            np.testing.assert_array_equal(got[key], expected[key])
    model.train_step(X, y)
    moved = state_of(model)
    assert all(not np.array_equal(got[key], expected[key]) for got, expected in zip(moved, before)
               for key in expected)


def test_inference_uses_running_statistics_and_no_dropout(backend):
    spec = {**DENSE_TRAINING, "optimizer": {"name": "adam", "lr": 0.01}}
    model = backprop.build(spec, backend=backend, dtype="float64", seed=0)
    X, y = random_batch(spec, 16, np.random.default_rng(1))
    for _ in range(5):
        model.train_step(X, y)
    first = model.predict(X[:5])
    np.testing.assert_array_equal(model.predict(X[:5]), first)
    np.testing.assert_allclose(model.predict(X[:1])[0], first[0], rtol=1e-12)
    assert model.evaluate(X, y)["loss"] == model.evaluate(X, y)["loss"]
    assert model.loss_and_grads(X, y)[0] != model.loss_and_grads(X, y)[0]


def test_batch_norm_needs_two_values_per_feature_in_training(backend):
    model = backprop.build(DENSE_TRAINING, backend=backend, dtype="float64", seed=0)
    X, y = random_batch(DENSE_TRAINING, 5, np.random.default_rng(0))
    with pytest.raises(InputError, match=r"layers\[1\] \(batch_norm\) needs at least 2 values per feature"):
        model.train_step(X[:1], y[:1])
    with pytest.raises(InputError, match="batch_norm"):
        model.fit(X, y, batch_size=2)
    assert model.predict(X[:1]).shape == (1, 4)


@pytest.mark.parametrize("dtype", ["float32", pytest.param("float64", marks=pytest.mark.slow)])
def test_native_dropout_masks_train_and_predict_deterministically(dtype, backend):
    spec = {**TRAINING_LAYERS, "dropout_rng": "native", "optimizer": {"name": "adam", "lr": 0.01}}
    model = backprop.build(spec, backend=backend, dtype=dtype, seed=0)
    X, y = random_batch(spec, 12, np.random.default_rng(0))
    losses = [model.train_step(X, y) for _ in range(6)]
    assert all(np.isfinite(losses)) and len(set(losses)) == len(losses)
    np.testing.assert_array_equal(model.predict(X), model.predict(X))


# ----- cross-backend agreement ---------------------------------------------------------------------------------------

@adapters
@pytest.mark.parametrize("dtype", ["float64", pytest.param("float32", marks=pytest.mark.slow)])
@pytest.mark.parametrize("spec", [DENSE_TRAINING, TRAINING_LAYERS], ids=["dense", "conv"])
def test_training_layer_gradients_agree(spec, dtype, backend):
    """The suite's masks make dropout identical on every backend; batch_norm normalizes with batch statistics."""
    X, y = kink_free_batch(spec, np.random.default_rng(2), n=8, seed=2)
    assert_agree(gradient_agreement(spec, X, y, dtype=dtype, seed=2, backends=[backend]))


TRAJECTORY_CASES = [pytest.param(DENSE_TRAINING, "float64", id="dense-float64", marks=pytest.mark.slow),
                    pytest.param(TRAINING_LAYERS, "float64", id="conv-float64"),
                    pytest.param(DENSE_TRAINING, "float32", id="dense-float32", marks=pytest.mark.slow),
                    pytest.param(SMOOTH_TRAINING_LAYERS, "float32", id="smooth-conv-float32", marks=pytest.mark.slow)]


@adapters
@pytest.mark.parametrize("spec, dtype", TRAJECTORY_CASES)
def test_training_layer_trajectories_agree_with_running_statistics(spec, dtype, backend):
    """100 steps, then every parameter agrees, running statistics included. In float32 the conv network is the
    smooth one (DESIGN.md section 4): through relu and max pooling after batch_norm, a float32 trajectory crosses
    kinks and ties that flip with rounding, and every implementation, NumPy's two modes included, ends 3e-3 from
    the float64 trajectory after 100 steps."""
    spec = {**spec, "optimizer": {"name": "momentum", "lr": 0.02}}
    X, y = random_batch(spec, 32, np.random.default_rng(3))
    table = trajectory_agreement(spec, X, y, steps=100, batch_size=8, dtype=dtype, seed=3, backends=[backend])
    assert {"running_mean", "running_var"} <= set(table["param"])
    assert_agree(table)


CASES = [pytest.param(name, dtype, marks=[] if dtype == "float64" and name in DEFAULT_OPTIMIZERS
                      else [pytest.mark.slow], id=f"{name}-{dtype}")
         for name in OPTIMIZER_CASES for dtype in ("float64", "float32")]


@adapters
@pytest.mark.parametrize("name, dtype", CASES)
def test_every_optimizer_and_schedule_follows_the_numpy_trajectory(name, dtype, backend):
    spec = mlp(OPTIMIZER_CASES[name])
    X, y = random_batch(spec, 64, np.random.default_rng(4))
    assert_agree(trajectory_agreement(spec, X, y, steps=100, batch_size=16, dtype=dtype, seed=4,
                                      backends=[backend]))


@adapters
@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=training_specs(), seed=st.integers(0, 1000))
def test_random_training_layer_specs_agree(spec, seed, backend):
    X, y = kink_free_batch(spec, np.random.default_rng(seed), n=6, seed=seed)
    assert_agree(gradient_agreement(spec, X, y, dtype="float64", seed=seed, backends=[backend]))


@adapters
def test_a_model_trained_on_numpy_predicts_the_same_everywhere_after_set_params(backend):
    spec = {**TRAINING_LAYERS, "optimizer": {"name": "adamw", "lr": 0.01}}
    trained = backprop.build(spec, backend="numpy", dtype="float64", seed=0)
    X, y = random_batch(spec, 24, np.random.default_rng(5))
    trained.fit(X, y, epochs=3, batch_size=8)
    other = backprop.build(spec, backend=backend, dtype="float64", seed=1)
    other.set_params(trained.get_params())
    tolerance = TOLERANCES[("gradients", "float64")]
    assert compare(other.predict(X), trained.predict(X), tolerance).passed
    assert compare(other.evaluate(X, y)["loss"], trained.evaluate(X, y)["loss"], tolerance).passed


@pytest.mark.slow
@adapters
def test_every_mode_follows_the_numpy_trajectory_with_training_layers(backend):
    """Every execution mode of the adapter (torch eager and compile; TF function, eager and xla; JAX jit), with
    dropout, batch_norm and a scheduled AdamW, in float32 on the smooth network: on the relu/max-pool one a gradient
    element of 2.6e-7 is below float32 noise in every implementation, and AdamW's first step, lr·g/(|g| + ε),
    moves it by ±lr with the noise's sign."""
    spec = {**SMOOTH_TRAINING_LAYERS, "optimizer": OPTIMIZER_CASES["adamw-cosine"]}
    X, y = random_batch(spec, 24, np.random.default_rng(6))
    tolerance = TOLERANCES[("trajectory", "float32")]
    reference = backprop.build(spec, backend="numpy", dtype="float32", seed=0)
    batches = [(X[i:i + 8], y[i:i + 8]) for i in (0, 8, 16) * 8]
    expected = [reference.train_step(*batch) for batch in batches]
    for mode in modes_of(backend):
        model = backprop.build(spec, backend=backend.split(":")[0], dtype="float32", seed=0, mode=mode)
        assert compare([model.train_step(*batch) for batch in batches], expected, tolerance).passed, mode
        for got, want in zip(model.get_params(), reference.get_params()):
            for key in want:
                assert compare(got[key], want[key], tolerance).passed, (mode, key)
