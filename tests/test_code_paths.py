"""Every size-, shape- or optimizer-dependent path of a backend is held to cross-backend agreement.

Each case checks, on the NumPy side, that the path was taken (a spy or the model's own public flags), and then
that every adapter agrees with NumPy on it. A specialised path added without a case here is a bug.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import backprop
from backends.numpy import activations as numpy_activations, losses as numpy_losses, model as numpy_model
from backprop.agreement import gradient_agreement, trajectory_agreement
from backprop.datasets import random_batch
from backprop.model import INFERENCE_CHUNK_ROWS
from backprop.spec import mlp_spec
from backprop.tolerances import TOLERANCES, compare

from .conftest import ADAPTERS
from .test_agreement import assert_agree

adapters = pytest.mark.parametrize("backend", ADAPTERS, indirect=True)


@pytest.fixture
def spy(monkeypatch):
    """``spy(owner, name)`` wraps ``owner.name`` so each call is counted in the returned Counter under ``name``."""
    calls: Counter = Counter()

    def install(owner, name, when=lambda *args, **kwargs: True):
        original = getattr(owner, name)

        def counted(*args, **kwargs):
            if when(*args, **kwargs):
                calls[name] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)
        return calls

    return install


@adapters
@pytest.mark.parametrize("dtype", ["float64", pytest.param("float32", marks=pytest.mark.slow)])
@pytest.mark.parametrize("hidden", ["prelu", "relu"])
def test_fused_sgd_layers_agree(hidden, dtype, backend):
    """Layers of ≥ 65 536 weights with plain sgd take their update inside the GEMM (a prelu layer's alpha with it)."""
    spec = {**mlp_spec([300, 256, 3], hidden, "softmax", "cross_entropy"), "optimizer": {"name": "sgd", "lr": 0.1}}
    assert backprop.build(spec, backend="numpy").fused_sgd == [True, False]
    X, y = random_batch(spec, 48, np.random.default_rng(0))
    assert_agree(trajectory_agreement(spec, X, y, steps=20, batch_size=16, dtype=dtype, backends=[backend]))


@adapters
def test_fused_sgd_with_weight_decay_and_a_schedule_agrees(backend):
    """The fused GEMM takes the coupled decay as its beta = 1 − lr_t·wd, with the step's scheduled lr_t."""
    spec = {**mlp_spec([300, 256, 3], "prelu", "softmax", "cross_entropy"),
            "optimizer": {"name": "sgd", "lr": 0.1, "weight_decay": 0.05,
                          "schedule": {"name": "cosine", "decay_steps": 12, "alpha": 0.2}}}
    assert backprop.build(spec, backend="numpy").fused_sgd == [True, False]
    X, y = random_batch(spec, 48, np.random.default_rng(1))
    assert_agree(trajectory_agreement(spec, X, y, steps=20, batch_size=16, dtype="float64", backends=[backend]))


@adapters
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cross_entropy_far_from_the_target_uses_the_max_shift_and_agrees(dtype, backend, spy):
    """A logit more than SHIFT_LIMIT above its row's target switches cross-entropy to the max-shifted form, and a
    row far below the batch's max makes that softmax redo the row with its own maximum."""
    calls = spy(numpy_losses.CrossEntropy, "_max_shifted")
    spy(numpy_activations, "_shifted_exp", when=lambda z, m, out, row_sum: np.ndim(m) == 2)
    spec = mlp_spec([2, 3], "linear", "softmax", "cross_entropy")
    X = np.array([[300.0, -250.0], [-0.5, 0.3], [-90.0, -95.0], [1.0, 1.0]])
    y = np.array([2, 0, 1, 1])
    assert_agree(gradient_agreement(spec, X, y, dtype=dtype, backends=[backend]))
    assert calls["_max_shifted"] >= 1 and calls["_shifted_exp"] >= 1


@adapters
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softmax_predictions_of_rows_far_apart_agree(dtype, backend, spy):
    calls = spy(numpy_activations, "_shifted_exp", when=lambda z, m, out, row_sum: np.ndim(m) == 2)
    spec = mlp_spec([2, 3], "linear", "softmax", "cross_entropy")
    X = np.array([[400.0, -250.0], [-0.5, 0.3], [-300.0, 10.0]])
    expected = backprop.build(spec, backend="numpy", dtype=dtype).predict(X)
    got = backprop.build(spec, backend=backend, dtype=dtype).predict(X)
    assert calls["_shifted_exp"] >= 1
    assert compare(got, expected, TOLERANCES[("gradients", dtype)]).passed


@adapters
def test_several_live_workspaces_and_evicted_ones_agree(backend):
    """Batch sizes alternate (several workspaces alive at once) and exceed WORKSPACES_KEPT (old ones evicted)."""
    spec = {**mlp_spec([5, 9, 3], "tanh", "softmax", "cross_entropy"), "optimizer": "adam"}
    rng = np.random.default_rng(0)
    sizes = [4, 16, 4, 7, 16, 1, 9, 3, 4, 16] * 3
    assert len(set(sizes)) > numpy_model.WORKSPACES_KEPT
    batches = [random_batch(spec, n, rng) for n in sizes]
    models = {name: backprop.build(spec, backend=name, dtype="float64", seed=0) for name in ("numpy", backend)}
    losses = {name: [model.train_step(X, y) for X, y in batches] for name, model in models.items()}
    tolerance = TOLERANCES[("trajectory", "float64")]
    assert compare(losses[backend], losses["numpy"], tolerance).passed
    for got, expected in zip(models[backend].get_params(), models["numpy"].get_params()):
        for key in expected:
            assert compare(got[key], expected[key], tolerance).passed
    assert len(models["numpy"].workspaces) == numpy_model.WORKSPACES_KEPT


@adapters
@pytest.mark.parametrize("batch_size", [1, 1024])
def test_batch_sizes_one_and_large_agree(batch_size, backend):
    spec = {**mlp_spec([6, 16, 4], "relu", "softmax", "cross_entropy"), "optimizer": "momentum"}
    X, y = random_batch(spec, 2 * batch_size, np.random.default_rng(batch_size))
    assert_agree(trajectory_agreement(spec, X, y, steps=6, batch_size=batch_size, dtype="float64",
                                      backends=[backend]))


@adapters
def test_inference_in_chunks_and_padded_buckets_agrees(backend):
    """predict and evaluate over more rows than one chunk, and over sizes that are no power of two (JAX pads them
    to one); TensorFlow runs them through its batch-polymorphic trace."""
    spec = mlp_spec([6, 16, 4], "relu", "softmax", "cross_entropy")
    rng = np.random.default_rng(0)
    reference = backprop.build(spec, backend="numpy", dtype="float64", seed=0)
    model = backprop.build(spec, backend=backend, dtype="float64", seed=0)
    tolerance = TOLERANCES[("gradients", "float64")]
    for n in (1, 5, 37, 2 * INFERENCE_CHUNK_ROWS + 3):
        X, y = random_batch(spec, n, rng)
        assert compare(model.predict(X), reference.predict(X), tolerance).passed, n
        got, expected = model.evaluate(X, y), reference.evaluate(X, y)
        assert compare(got["loss"], expected["loss"], tolerance).passed and got["accuracy"] == expected["accuracy"]


@adapters
def test_huge_finite_gradients_are_applied_everywhere(backend, spy):
    """Finite gradients whose sum of squares overflows float32: NumPy's fast finiteness check gives way to the
    exact one, and the update is applied, as on every other backend."""
    calls = spy(numpy_model, "_exactly_finite")
    spec = {**mlp_spec([1, 1], "linear", "linear", "mse"), "optimizer": {"name": "sgd", "lr": 1e-22}}
    params = [{"W": np.full((1, 1), 1e-2, dtype=np.float32), "b": np.zeros(1, dtype=np.float32)}]
    X, y = np.full((2, 1), 1e11), np.zeros((2, 1))
    finals = {}
    for name in ("numpy", backend):
        model = backprop.build(spec, backend=name, dtype="float32", seed=0)
        model.set_params(params)
        _, grads = model.loss_and_grads(X, y)
        assert 1.8e19 < abs(grads[0]["W"][0, 0]) < 3e38
        model.train_step(X, y)
        finals[name] = model.get_params()[0]["W"]
    assert calls["_exactly_finite"] >= 1
    assert finals["numpy"][0, 0] != params[0]["W"][0, 0]
    assert compare(finals[backend], finals["numpy"], TOLERANCES[("gradients", "float32")]).passed
