"""The tutorial the suite grew from, replayed exactly: the XOR 2-2-1 sigmoid network of
``../shared/seeds/001_fb215aa8214a3680.txt`` trains for 2000 full-batch epochs at lr 0.8 with

    δ_o = (y − ŷ)·ŷ(1 − ŷ);  δ_h = δ_o·W_hoᵀ·h(1 − h);  W_ho += lr·hᵀδ_o;  W_ih += lr·Xᵀδ_h;  b += lr·Σ δ,

which is gradient descent on L = ½·Σ (y − ŷ)², a sum over the batch. The spec says the same with
``"loss": "mse", "loss_reduction": "half_sum"`` and sgd at lr 0.8, and every backend follows the script's own
trajectory from the script's initial weights (``np.random.rand(...) − 0.5``, here from a seeded generator).

The loss reductions themselves are tested against each other: "sum" is c·"mean" in value and gradient, with c the
number of terms (:meth:`backprop.spec.NetworkSpec.loss_scale`), on every backend.
"""

from __future__ import annotations

import numpy as np
import pytest

import backprop
from backprop import SpecError
from backprop.datasets import random_batch
from backprop.model import INFERENCE_CHUNK_ROWS
from backprop.tolerances import TOLERANCES, compare

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
Y = np.array([[0], [1], [1], [0]], dtype=np.float64)
LR, EPOCHS, CHECKPOINTS = 0.8, 2000, (1, 10, 100, 500, 2000)
SEED_SPEC = {"input_dim": 2, "layers": [{"units": 2, "activation": "sigmoid"}, {"units": 1, "activation": "sigmoid"}],
             "loss": "mse", "loss_reduction": "half_sum", "optimizer": {"name": "sgd", "lr": LR}}


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def sigmoid_derivative(x):
    return x * (1 - x)


class SeedNetwork:
    """The seed script's ``NeuralNetwork``, line for line, with its random initial weights passed in."""

    def __init__(self, weights_ih, weights_ho, bias_h, bias_o):
        self.weights_ih, self.weights_ho = weights_ih.copy(), weights_ho.copy()
        self.bias_h, self.bias_o = bias_h.copy(), bias_o.copy()

    def feedforward(self, input_data):
        hidden = sigmoid(np.dot(input_data, self.weights_ih) + self.bias_h)
        output = sigmoid(np.dot(hidden, self.weights_ho) + self.bias_o)
        return hidden, output

    def backward(self, input_data, hidden, output, target_data, learning_rate):
        output_error = target_data - output
        output_delta = output_error * sigmoid_derivative(output)
        hidden_error = np.dot(output_delta, self.weights_ho.T)
        hidden_delta = hidden_error * sigmoid_derivative(hidden)
        self.weights_ho += learning_rate * np.dot(hidden.T, output_delta)
        self.weights_ih += learning_rate * np.dot(input_data.T, hidden_delta)
        self.bias_o += learning_rate * np.sum(output_delta, axis=0)
        self.bias_h += learning_rate * np.sum(hidden_delta, axis=0)

    def params(self) -> list[dict]:
        return [{"W": self.weights_ih, "b": self.bias_h[0]}, {"W": self.weights_ho, "b": self.bias_o[0]}]


def seed_initial_weights() -> tuple[np.ndarray, ...]:
    """The script's ``np.random.rand(shape) − 0.5`` for W_ih (2, 2), W_ho (2, 1), b_h (1, 2), b_o (1, 1), seeded."""
    rng = np.random.RandomState(1)
    return tuple(rng.rand(*shape) - 0.5 for shape in [(2, 2), (2, 1), (1, 2), (1, 1)])


def seed_trajectory() -> dict[int, tuple[list[dict], float]]:
    """The script's parameters and its ½·Σ(y − ŷ)² after each checkpoint epoch."""
    network, recorded = SeedNetwork(*seed_initial_weights()), {}
    for epoch in range(1, EPOCHS + 1):
        hidden, output = network.feedforward(X)
        network.backward(X, hidden, output, Y, LR)
        if epoch in CHECKPOINTS:
            output = network.feedforward(X)[1]
            recorded[epoch] = ([{key: value.copy() for key, value in layer.items()} for layer in network.params()],
                               0.5 * float(np.sum((Y - output) ** 2)))
    return recorded


@pytest.mark.parametrize("backend", ["numpy", "numpy:reference", "torch", "tensorflow", "jax"], indirect=True)
def test_the_seed_tutorial_is_replayed_exactly(backend):
    expected = seed_trajectory()
    model = backprop.build(SEED_SPEC, backend=backend, dtype="float64", seed=0)
    model.set_params(SeedNetwork(*seed_initial_weights()).params())
    tolerance = TOLERANCES[("trajectory", "float64")]
    for epoch in range(1, EPOCHS + 1):
        model.train_step(X, Y)
        if epoch in CHECKPOINTS:
            params, loss = expected[epoch]
            for mine, theirs in zip(model.get_params(), params, strict=True):
                for key in theirs:
                    assert compare(mine[key], theirs[key], tolerance).passed, (epoch, key)
            assert compare(np.array(model.evaluate(X, Y)["loss"]), np.array(loss), tolerance).passed, epoch
    assert np.all((model.predict(X) > 0.5) == Y.astype(bool)), "the seed's run learns XOR"


def test_the_mean_takes_half_the_seeds_step():
    """xor-mse's mean mse at the same lr: the gradient of (1/4)·Σ(y − ŷ)² is half that of ½·Σ(y − ŷ)²."""
    half_sum = backprop.build(SEED_SPEC, backend="numpy", dtype="float64", seed=0)
    mean = backprop.build({**SEED_SPEC, "loss_reduction": "mean"}, backend="numpy", dtype="float64", seed=0)
    mean.set_params(half_sum.get_params())
    (_, half_grads), (_, mean_grads) = half_sum.loss_and_grads(X, Y), mean.loss_and_grads(X, Y)
    for a, b in zip(half_grads, mean_grads):
        for key in a:
            np.testing.assert_allclose(a[key], 2.0 * b[key], rtol=1e-14, atol=0)


REDUCTION_SPECS = {
    "mse": {"input_dim": 5, "layers": [{"units": 6, "activation": "tanh"}, {"units": 3, "activation": "sigmoid"}],
            "loss": "mse"},
    "cross_entropy": {"input_dim": 5, "layers": [{"units": 6, "activation": "relu"},
                                                 {"units": 4, "activation": "softmax"}], "loss": "cross_entropy"},
    "binary_cross_entropy": {"input_dim": 5, "layers": [{"units": 6, "activation": "tanh"},
                                                        {"units": 3, "activation": "sigmoid"}],
                             "loss": "binary_cross_entropy"},
}
REDUCTION_CASES = [(loss, reduction) for loss in REDUCTION_SPECS for reduction in ("sum", "half_sum")
                   if reduction == "sum" or loss == "mse"]


@pytest.mark.parametrize("dtype", ["float64", pytest.param("float32", marks=pytest.mark.slow)])
@pytest.mark.parametrize("loss,reduction", REDUCTION_CASES)
@pytest.mark.parametrize("backend", ["numpy", "numpy:reference", "torch", "tensorflow", "jax"], indirect=True)
def test_a_summed_loss_is_the_mean_times_its_number_of_terms(loss, reduction, dtype, backend):
    """Value, gradients, the step taken and evaluate's loss over several chunks, against the same model with the mean."""
    spec = {**REDUCTION_SPECS[loss], "optimizer": {"name": "sgd", "lr": 0.01}}
    summed = backprop.build({**spec, "loss_reduction": reduction}, backend=backend, dtype=dtype, seed=0)
    mean = backprop.build(spec, backend=backend, dtype=dtype, seed=0)
    X, y = random_batch(summed.spec, 12, np.random.default_rng(2))
    scale = summed.spec.loss_scale(12)
    assert scale == {"sum": 12.0 if loss == "cross_entropy" else 36.0, "half_sum": 18.0}[reduction]
    tolerance = TOLERANCES[("gradients", dtype)]
    (value, grads), (mean_value, mean_grads) = summed.loss_and_grads(X, y), mean.loss_and_grads(X, y)
    assert compare(np.array(value), np.array(scale * mean_value), tolerance).passed
    for mine, theirs in zip(grads, mean_grads):
        for key in mine:
            assert mine[key].dtype == np.dtype(dtype)
            assert compare(mine[key], scale * theirs[key], tolerance).passed, key
    X_many, y_many = random_batch(summed.spec, INFERENCE_CHUNK_ROWS + 100, np.random.default_rng(3))
    assert compare(np.array(summed.evaluate(X_many, y_many)["loss"]),
                   np.array(summed.spec.loss_scale(len(X_many)) * mean.evaluate(X_many, y_many)["loss"]),
                   tolerance).passed
    mean_spec = {**spec, "optimizer": {"name": "sgd", "lr": 0.01 * scale}}
    scaled_lr = backprop.build(mean_spec, backend=backend, dtype=dtype, seed=0)
    summed.train_step(X, y)
    scaled_lr.train_step(X, y)
    for mine, theirs in zip(summed.get_params(), scaled_lr.get_params()):
        for key in mine:
            assert compare(mine[key], theirs[key], TOLERANCES[("trajectory", dtype)]).passed, key


@pytest.mark.bad_input
@pytest.mark.parametrize("bad,message", [
    ({"loss_reduction": "average"}, "loss_reduction: expected one of mean, sum, half_sum; got 'average'"),
    ({"loss": "cross_entropy", "layers": [{"units": 2, "activation": "softmax"}], "loss_reduction": "half_sum"},
     "loss_reduction: half_sum"),
])
def test_a_bad_loss_reduction_names_the_field_and_the_choices(bad, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(")):
        backprop.build({**SEED_SPEC, **bad}, backend="numpy")


def test_the_reduction_round_trips_and_the_mean_stays_implicit():
    spec = backprop.as_spec(SEED_SPEC)
    assert spec.to_dict()["loss_reduction"] == "half_sum"
    assert backprop.as_spec(spec.to_json()) == spec
    assert "loss_reduction" not in backprop.as_spec({**SEED_SPEC, "loss_reduction": "mean"}).to_dict()
