"""The NumPy CNN layers: their forward pass equals loop-by-loop definitions, their gradients equal central finite
differences, and every chunking path of im2col gives the same numbers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import backprop
from backends.numpy.layers import conv as numpy_conv
from backprop.datasets import random_batch
from backprop.gradcheck import finite_difference_check
from backprop.tolerances import TOLERANCES, compare

from .helpers import cnn_specs, kink_free_batch
from .naive_layers import forward

LENET = {"input_shape": [28, 28, 1], "layers": [
    {"type": "conv2d", "filters": 6, "kernel_size": 5, "strides": 1, "padding": "same", "activation": "relu"},
    {"type": "max_pool2d", "pool_size": 2},
    {"type": "conv2d", "filters": 16, "kernel_size": [5, 5], "activation": "relu"},
    {"type": "avg_pool2d", "pool_size": 2, "strides": 2, "padding": "same"},
    {"type": "flatten"}, {"type": "dense", "units": 120, "activation": "relu"},
    {"units": 10, "activation": "softmax"}], "loss": "cross_entropy",
    "optimizer": {"name": "momentum", "lr": 0.01, "momentum": 0.9}}


def with_random_biases(spec, seed):
    """The seed's initial parameters with biases drawn away from 0 (no layer output is exactly 0 by symmetry)."""
    rng = np.random.default_rng(seed)
    params = backprop.init_params(backprop.as_spec(spec), np.float64, seed)
    for layer in params:
        if "b" in layer:
            layer["b"] = rng.uniform(0.1, 0.5, layer["b"].shape) * rng.choice([-1.0, 1.0], layer["b"].shape)
    return params


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=cnn_specs(), seed=st.integers(0, 1000))
def test_forward_equals_the_loop_by_loop_definitions(spec, seed):
    model = backprop.build(spec, backend="numpy", dtype="float64", seed=seed)
    params = with_random_biases(spec, seed)
    model.set_params(params)
    X, _ = random_batch(spec, 3, np.random.default_rng(seed))
    expected = forward(model.spec, params, X)
    got = model.predict(X)
    last = expected[-1] if model.spec.loss != "binary_cross_entropy" else 1 / (1 + np.exp(-expected[-2] @ params[-1]["W"] - params[-1]["b"]))
    assert compare(got, last, TOLERANCES[("gradients", "float64")]).passed
    for z, layer, out, p in zip(model.pre_activations(X), model.spec.layers, expected, params):
        if layer.type == "conv2d":
            assert z.shape == out.shape


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=cnn_specs(max_conv=2), seed=st.integers(0, 1000))
def test_cnn_gradients_match_finite_differences(spec, seed):
    params = with_random_biases(spec, seed)
    X, y = kink_free_batch(spec, np.random.default_rng(seed), n=2, seed=seed, margin=1e-3, exact_zero_ok=False,
                           params=params)
    table = finite_difference_check(spec, X, y, params=params, seed=seed)
    assert len(table) >= 4 and table["passed"].all(), table.to_string()


def one_chunk(chunks):
    return len(chunks) == 1


def whole_samples(chunks):
    return len(chunks) > 1 and all(c.samples.stop - c.samples.start > 1 and c.rows == slice(0, 14) for c in chunks[:-1])


def row_blocks(chunks):
    return all(c.samples.stop - c.samples.start == 1 for c in chunks) and any(c.rows != slice(0, 14) for c in chunks)


@pytest.mark.parametrize("budget, shape", [(1 << 30, one_chunk), (150_000, whole_samples), (1, row_blocks)],
                         ids=["one-chunk", "several-samples-a-chunk", "row-blocks"])
def test_every_im2col_chunking_gives_the_same_gradients(budget, shape, monkeypatch):
    """Whole batch in one chunk; several samples per chunk (accumulated weight gradients); blocks of output rows
    of one sample (the path of large images). All three equal the default's numbers to rounding."""
    spec = {**LENET, "input_shape": [14, 13, 2]}
    X, y = random_batch(spec, 6, np.random.default_rng(0))
    default = backprop.build(spec, backend="numpy", dtype="float64", seed=0)
    reference = default.loss_and_grads(X, y)
    monkeypatch.setattr(numpy_conv, "COLUMN_BUDGET_BYTES", budget)
    model = backprop.build(spec, backend="numpy", dtype="float64", seed=0)
    loss, grads = model.loss_and_grads(X, y)
    assert shape(model.workspaces[6][0].chunks)
    tolerance = TOLERANCES[("gradients", "float64")]
    assert compare(loss, reference[0], tolerance).passed
    for got, expected in zip(grads, reference[1]):
        for key in expected:
            assert compare(got[key], expected[key], tolerance).passed, key
    assert compare(model.predict(X), default.predict(X), tolerance).passed


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_cnn_stays_in_its_dtype_and_raises_no_floating_point_warning(dtype):
    """No overflow, division or invalid-value warning (underflow to 0, ignored by NumPy by default, is expected)."""
    import warnings

    spec = {**LENET, "input_shape": [14, 13, 1]}
    model = backprop.build(spec, backend="numpy", dtype=dtype, seed=0)
    X, y = random_batch(spec, 5, np.random.default_rng(0))
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        for _ in range(3):
            model.train_step(X * 1e3, y)
        loss, grads = model.loss_and_grads(X, y)
    buffers = [value for ws in model.workspaces[5] for value in vars(ws).values()
               if isinstance(value, np.ndarray) and value.dtype.kind == "f"]
    arrays = [*buffers, *(v for layer in grads + model.get_params() for v in layer.values()), model.predict(X)]
    assert {a.dtype for a in arrays} == {np.dtype(dtype)} and np.isfinite(loss)


def test_lenet_summary_and_flops():
    spec = backprop.as_spec(LENET)
    assert spec.shapes == ((28, 28, 6), (14, 14, 6), (10, 10, 16), (5, 5, 16), (400,), (120,), (10,))
    assert spec.param_count() == 156 + 2416 + 48120 + 1210
    per_sample = 2 * 28 * 28 * 25 * 6, 2 * 10 * 10 * 150 * 16, 2 * 400 * 120, 2 * 120 * 10
    assert spec.flops_per_step(3) == 3 * (2 * per_sample[0] + 3 * sum(per_sample[1:]))
    assert "Total parameters: 51,902" in spec.summary_text()
