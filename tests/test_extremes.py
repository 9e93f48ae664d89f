"""Numerical extremes stay finite and agree across backends; divergence stops ``fit`` cleanly."""

import copy
import warnings

import numpy as np
import pytest

import backprop
from backprop import DivergenceError
from backprop.spec import mlp_spec
from backprop.tolerances import TOLERANCES, Tolerance, compare

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
    with warnings.catch_warnings(), pytest.raises(DivergenceError, match=r"non-finite .* at epoch \d+, step \d+"):
        warnings.simplefilter("error", RuntimeWarning)
        model.fit(X, y, epochs=50, batch_size=5)
    params = model.get_params()
    assert all(np.all(np.isfinite(value)) for layer in params for value in layer.values())


DIVERGENCE_OPTIMIZERS = [{"name": "sgd", "lr": 0.01}, {"name": "momentum", "lr": 0.01, "nesterov": True},
                         {"name": "adam", "lr": 0.01}]
# (input width, hidden width): the second puts 300 × 256 = 76 800 weights in the first layer, so NumPy's sgd
# fuses that layer's update into its GEMM and its guard checks [a, 1] and g instead of a stored gradient.
DIVERGENCE_WIDTHS = [(3, 4), (300, 256)]


def finite_loss_infinite_gradient(inputs: int, hidden: int, dtype: str):
    """Parameters and a batch of a linear [inputs, hidden, 1] mse net whose loss is finite while dL/dW_0 is not:
    X = 0, so a_1 = b_0 = tiny; W_1 is huge, so z_2 = hidden·tiny·huge stays moderate, but g_1 = g_2·W_1ᵀ
    overflows, and dW_0 = Xᵀ g_1 = 0·inf is NaN on every backend."""
    tiny, huge = (1e-19, 1e29) if dtype == "float32" else (1e-150, 1e300)
    params = [{"W": np.full((inputs, hidden), 0.5, dtype=dtype), "b": np.full(hidden, tiny, dtype=dtype)},
              {"W": np.full((hidden, 1), huge, dtype=dtype), "b": np.zeros(1, dtype=dtype)}]
    return params, np.zeros((4, inputs)), np.zeros((4, 1))


@pytest.mark.parametrize("dtype", ["float32", pytest.param("float64", marks=pytest.mark.slow)])
@pytest.mark.parametrize("widths", DIVERGENCE_WIDTHS, ids=["small", "fused-sgd-size"])
@pytest.mark.parametrize("optimizer", DIVERGENCE_OPTIMIZERS, ids=[o["name"] for o in DIVERGENCE_OPTIMIZERS])
def test_a_non_finite_gradient_with_a_finite_loss_changes_nothing(optimizer, widths, dtype, backend):
    """train_step and fit raise DivergenceError, apply nothing (parameters, optimizer state and step count), and
    training then continues exactly as if the diverging batch had never been seen."""
    spec = {**mlp_spec([widths[0], widths[1], 1], "linear", "linear", "mse"), "optimizer": optimizer}
    model, reference = (backprop.build(spec, backend=backend, dtype=dtype, seed=0) for _ in range(2))
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(8, widths[0])), rng.normal(size=(8, 1))
    for _ in range(3):
        assert model.train_step(X, y) == reference.train_step(X, y)
    saved = model.get_params()
    bad, X_bad, y_bad = finite_loss_infinite_gradient(*widths, dtype)
    model.set_params(bad)
    loss, grads = model.loss_and_grads(X_bad, y_bad)
    assert np.isfinite(loss) and not np.all(np.isfinite(grads[0]["W"]))
    with pytest.raises(DivergenceError, match="non-finite loss or gradient"):
        model.train_step(X_bad, y_bad)
    with pytest.raises(DivergenceError, match="at epoch 1, step 1"):
        model.fit(X_bad, y_bad, epochs=2, batch_size=4)
    for got, expected in zip(model.get_params(), bad):
        np.testing.assert_array_equal(got["W"], expected["W"])
    model.set_params(saved)
    for _ in range(3):
        assert model.train_step(X, y) == reference.train_step(X, y)
    for got, expected in zip(model.get_params(), reference.get_params()):
        np.testing.assert_array_equal(got["W"], expected["W"])


@pytest.mark.parametrize("optimizer", DIVERGENCE_OPTIMIZERS[:2], ids=["sgd", "momentum"])
def test_fit_restores_parameters_and_optimizer_state_when_an_update_overflows(optimizer, backend):
    """Finite gradients, but lr·g overflows the parameters: the next step's loss is non-finite, and fit goes back
    to the epoch's start, optimizer state included."""
    spec = {**mlp_spec([2, 1], "linear", "linear", "mse"), "optimizer": {**optimizer, "lr": 1e37}}
    model = backprop.build(spec, backend=backend, dtype="float32", seed=0)
    X, y = np.array([[1e-36, 0.0], [0.0, 1e-36]]), np.array([[1.0], [-1.0]])
    model.train_step(X, y)
    epoch_start = copy.deepcopy(model)
    with pytest.raises(DivergenceError):
        model.fit(np.array([[3.0, 4.0]]), np.array([[1e3]]), epochs=3, batch_size=1)
    for got, expected in zip(model.get_params(), epoch_start.get_params()):
        np.testing.assert_array_equal(got["W"], expected["W"])
    assert model.train_step(X, y) == epoch_start.train_step(X, y)
    for got, expected in zip(model.get_params(), epoch_start.get_params()):
        np.testing.assert_array_equal(got["W"], expected["W"])


def confident_batch(loss: str, scales: np.ndarray, classes: int, dtype: str):
    """One-hot X (N, N) picking row n of W, so the logits are W's rows exactly: row n has |z| = scales[n] on its
    target, with targets on the right side (a confident correct prediction of that confidence). Returns the
    spec, params, X, y and the exact loss (computed in long double from the same logits)."""
    n = len(scales)
    t = np.asarray(scales, dtype=dtype)
    if loss == "cross_entropy":
        W = np.zeros((n, classes), dtype=dtype)
        labels = np.arange(n) % classes
        W[np.arange(n), labels] = t
        exact = np.mean(np.log1p((classes - 1) * np.exp(-t.astype(np.longdouble))))
        y, output = labels, "softmax"
    else:
        signs = np.where(np.arange(n * classes).reshape(n, classes) % 2 == 0, 1.0, -1.0)
        W = (signs * t[:, None]).astype(dtype)
        y = (signs > 0).astype(dtype)
        exact = np.mean(np.log1p(np.exp(-np.abs(W.astype(np.longdouble)))))
        output = "sigmoid"
    spec = mlp_spec([n, classes], "linear", output, loss)
    return spec, [{"W": W, "b": np.zeros(classes, dtype=dtype)}], np.eye(n), y, float(exact)


LOSS_VALUE_CASES = [(loss, classes) for loss, classes in (("cross_entropy", 4), ("cross_entropy", 10),
                                                          ("binary_cross_entropy", 1),
                                                          ("binary_cross_entropy", 3))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss, classes", LOSS_VALUE_CASES, ids=[f"{l}-{c}" for l, c in LOSS_VALUE_CASES])
def test_loss_values_are_accurate_at_every_magnitude(loss, classes, dtype, backend):
    """Confident batches whose loss runs from ~1 down to 1e-20 (float32) or 1e-250 (float64), every row at one
    confidence, and mixed batches whose rows span the range: the loss agrees with its exact value within 4 ε."""
    top = 45.0 if dtype == "float32" else 570.0
    batches = [np.full(24, t) for t in np.geomspace(0.05, top, 14)]
    batches += [np.geomspace(0.05, top, 24), np.r_[np.full(12, top), np.full(12, 0.7)],
                np.r_[np.full(23, top * 0.8), [3.0]]]
    model = None
    for scales in batches:
        spec, params, X, y, exact = confident_batch(loss, scales, classes, dtype)
        model = model or backprop.build(spec, backend=backend, dtype=dtype, seed=0)
        model.set_params(params)
        value = model.loss_and_grads(X, y)[0]
        tolerance = TOLERANCES[("loss", dtype)]
        if backend == "torch" and loss == "binary_cross_entropy":
            # DESIGN.md section 4: torch's (1 − y)·z − log σ(z) subtracts two numbers near |z| for a confident
            # negative, so its absolute error scales with the largest |z| (measured, documented, not normalized).
            tolerance = Tolerance(rtol=0.0, atol=tolerance.atol * max(1.0, float(np.max(scales))))
        result = compare(value, exact, tolerance)
        assert result.passed, (f"{loss} {dtype}: loss {value!r} vs exact {exact!r} (|diff| {result.max_abs_diff:.3g},"
                               f" {result.tolerance_used:.2f} of the tolerance) for scales {scales[:3]}...")
        assert compare(model.evaluate(X, y)["loss"], exact, tolerance).passed
