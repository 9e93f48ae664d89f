"""``fit`` as Keras users expect it, on every backend: validation data, shuffle=False, a second call that carries on
with fresh orders, epochs=0."""

from __future__ import annotations

import numpy as np

import backprop
from backprop.datasets import random_batch
from backprop.spec import mlp_spec

SPEC = {**mlp_spec([5, 8, 3], "tanh", "softmax", "cross_entropy"), "optimizer": {"name": "adam", "lr": 0.01}}


def data(n=40, seed=0):
    return random_batch(SPEC, n, np.random.default_rng(seed))


def same_params(a, b):
    return all(np.array_equal(x[k], y[k]) for x, y in zip(a.get_params(), b.get_params()) for k in x)


def test_validation_data_adds_val_loss_and_val_accuracy(backend):
    model = backprop.build(SPEC, backend=backend, dtype="float64", seed=0)
    (X, y), (X_val, y_val) = data(), data(12, seed=1)
    history = model.fit(X, y, epochs=3, batch_size=8, validation_data=(X_val, y_val))
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 3 for values in history.values())
    assert history["val_loss"][-1] == model.evaluate(X_val, y_val)["loss"]


def test_a_second_fit_carries_on_with_fresh_orders(backend):
    """fit(1 epoch) twice equals fit(2 epochs) once: the second call continues the model's shuffle generator, so
    its order is new, not the first call's again."""
    X, y = data()
    twice, once, repeated = (backprop.build(SPEC, backend=backend, dtype="float64", seed=0) for _ in range(3))
    first = twice.fit(X, y, epochs=1, batch_size=8)
    second = twice.fit(X, y, epochs=1, batch_size=8)
    both = once.fit(X, y, epochs=2, batch_size=8)
    assert [first["loss"][0], second["loss"][0]] == both["loss"] and same_params(twice, once)
    repeated.fit(X, y, epochs=1, batch_size=8, seed=7)
    repeated.fit(X, y, epochs=1, batch_size=8, seed=7)
    assert not same_params(repeated, once)


def test_shuffle_false_visits_rows_in_order(backend):
    X, y = data()
    unshuffled = backprop.build(SPEC, backend=backend, dtype="float64", seed=0)
    stepped = backprop.build(SPEC, backend=backend, dtype="float64", seed=0)
    unshuffled.fit(X, y, epochs=2, batch_size=16, shuffle=False)
    for _ in range(2):
        for start in range(0, 40, 16):
            stepped.train_step(X[start:start + 16], y[start:start + 16])
    assert same_params(unshuffled, stepped)


def test_zero_epochs_returns_an_empty_history_and_changes_nothing(backend):
    model = backprop.build(SPEC, backend=backend, dtype="float64", seed=0)
    before = model.get_params()
    assert model.fit(*data(), epochs=0) == {"loss": []}
    assert all(np.array_equal(a[k], b[k]) for a, b in zip(model.get_params(), before) for k in a)
