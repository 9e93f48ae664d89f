"""Numerical extremes stay finite and agree across backends; divergence stops ``fit`` cleanly."""

import warnings

import numpy as np
import pytest

import backprop
from backprop import DivergenceError
from backprop.spec import mlp_spec
from backprop.tolerances import TOLERANCES, compare

EXTREME_CASES = [
    # (case, spec, X, y): saturated outputs with one-hot / hard targets on the wrong side
    ("softmax logits of ±1e4", mlp_spec([2, 3], "linear", "softmax", "cross_entropy"),
     np.array([[1e4, -1e4], [-1e4, 1e4]]), np.array([2, 0])),
    ("sigmoid logits of ±1e4", mlp_spec([2, 2], "linear", "sigmoid", "binary_cross_entropy"),
     np.array([[1e4, -1e4], [-1e4, 1e4]]), np.array([[0.0, 1.0], [1.0, 0.0]])),
    ("inputs scaled by 1e6, tanh then softmax", mlp_spec([4, 8, 3], "tanh", "softmax", "cross_entropy"),
     np.linspace(-1e6, 1e6, 20).reshape(5, 4), np.array([0, 1, 2, 0, 1])),
    ("inputs scaled by 1e6, saturated sigmoid mse", mlp_spec([4, 8, 2], "relu", "sigmoid", "mse"),
     np.linspace(-1e6, 1e6, 20).reshape(5, 4), np.array([[1.0, 0.0]] * 5)),
    ("saturated sigmoid hidden layer", mlp_spec([4, 6, 2], "sigmoid", "sigmoid", "binary_cross_entropy"),
     np.linspace(-1e3, 1e3, 12).reshape(3, 4), np.array([[1.0, 0.0]] * 3)),
]


@pytest.mark.bad_input
@pytest.mark.parametrize("case, spec, X, y", EXTREME_CASES, ids=[c[0] for c in EXTREME_CASES])
def test_extremes_give_finite_agreeing_gradients(case, spec, X, y, backend):
    model = backprop.build(spec, backend=backend, dtype="float64", seed=0)
    loss, grads = model.loss_and_grads(X, y)
    assert np.isfinite(loss)
    assert all(np.all(np.isfinite(g)) for layer in grads for g in layer.values())
    reference_loss, reference = backprop.build(spec, backend="numpy", dtype="float64", seed=0).loss_and_grads(X, y)
    tolerance = TOLERANCES[("gradients", "float64")]
    assert compare(loss, reference_loss, tolerance).passed, (loss, reference_loss)
    for layer, expected in zip(grads, reference):
        for key in expected:
            assert compare(layer[key], expected[key], tolerance).passed, (key, layer[key], expected[key])


def test_divergence_stops_fit_with_epoch_and_step(backend):
    spec = {**mlp_spec([3, 1], "linear", "linear", "mse"), "optimizer": {"name": "sgd", "lr": 1e3}}
    model = backprop.build(spec, backend=backend, dtype="float32", seed=0)
    X = np.linspace(-10, 10, 30).reshape(10, 3)
    y = X.sum(axis=1, keepdims=True)
    with warnings.catch_warnings(), pytest.raises(DivergenceError, match=r"non-finite loss .* at epoch \d+, step \d+"):
        warnings.simplefilter("error", RuntimeWarning)
        model.fit(X, y, epochs=50, batch_size=5)
    params = model.get_params()
    assert all(np.all(np.isfinite(value)) for layer in params for value in layer.values())
