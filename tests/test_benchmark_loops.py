"""The minimal loops' dropout (:mod:`benchmarks.reference_loops`): each framework's own, taken only in a spec whose
suite model draws native masks too; with nothing dropped a loop trains exactly like the suite's NumPy backend. The
guarded twins keep the suite's guarantee that a non-finite step changes nothing.

No timing assertions; a loop whose framework is not installed is skipped.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from backprop.registry import is_installed
from backprop.spec import as_spec, mlp_spec
from benchmarks.reference_loops import GUARDED_MODULES, REFERENCES, build_reference, supports
from tests.test_extremes import finite_loss_infinite_gradient

TINY_CNN = {"input_shape": [6, 6, 1], "layers": [
    {"type": "conv2d", "filters": 3, "kernel_size": 3, "padding": "same", "activation": "relu"},
    {"type": "dropout", "rate": 0.0}, {"type": "max_pool2d", "pool_size": 2}, {"type": "flatten"},
    {"units": 4, "activation": "softmax"}],
    "loss": "cross_entropy", "optimizer": {"name": "momentum", "lr": 0.05}, "dropout_rng": "native"}


def test_the_minimal_loops_take_dropout_only_with_native_masks():
    assert supports(as_spec(TINY_CNN)) and not supports(as_spec({**TINY_CNN, "dropout_rng": "suite"}))


@pytest.mark.parametrize("label", list(REFERENCES))
def test_a_minimal_loop_with_dropout_trains_like_numpy_when_nothing_is_dropped_and_drops_otherwise(label):
    framework = REFERENCES[label].framework
    if not is_installed(framework):
        pytest.skip(f"{framework} is not installed")
    import backprop

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 6, 6, 1)), rng.integers(0, 4, 8)
    model = backprop.build(TINY_CNN, backend="numpy", dtype="float32", seed=0)
    expected = [model.train_step(X, y) for _ in range(3)]
    loop = build_reference(label, as_spec(TINY_CNN), "float32", seed=0)
    Xn, yn = loop.prepare_batch(X, y)
    assert [float(loop.train_step(Xn, yn)) for _ in range(3)] == pytest.approx(expected, rel=1e-4)
    logits = loop.logits(loop.features(X))
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    assert softmax / softmax.sum(axis=1, keepdims=True) == pytest.approx(model.predict(X), rel=1e-3, abs=1e-5)
    dropping = {**TINY_CNN, "layers": [{**layer, "rate": 0.9} if layer.get("type") == "dropout" else layer
                                       for layer in TINY_CNN["layers"]]}
    loop = build_reference(label, as_spec(dropping), "float32", seed=0)
    Xn, yn = loop.prepare_batch(X, y)
    assert float(loop.train_step(Xn, yn)) != pytest.approx(expected[0], rel=1e-3)


GUARDED = [label for label, reference in REFERENCES.items() if reference.module in GUARDED_MODULES]


@pytest.mark.parametrize("label", GUARDED)
def test_a_guarded_twin_skips_a_non_finite_update_that_its_loop_applies(label):
    """The twin timed beside a loop to explain the suite's overhead keeps the suite's guarantee: a batch with a
    finite loss and a non-finite gradient changes nothing, where the loop itself writes NaN into its weights;
    on finite batches the twin trains as the loop does."""
    reference = REFERENCES[label]
    if not is_installed(reference.framework):
        pytest.skip(f"{reference.framework} is not installed")
    build = importlib.import_module(f"benchmarks.{reference.module}").build
    spec = as_spec(mlp_spec([3, 4, 1], "linear", "linear", "mse"))
    params, X_bad, y_bad = finite_loss_infinite_gradient(3, 4, "float32")
    for guarded in (True, False):
        loop = build(spec, np.dtype("float32"), params, **dict(reference.options), guarded=guarded)
        before = loop.logits(loop.features(X_bad))
        assert np.isfinite(float(loop.train_step(*loop.prepare_batch(X_bad, y_bad))))
        after = loop.logits(loop.features(X_bad))
        assert np.array_equal(after, before) if guarded else not np.all(np.isfinite(after))
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    losses = {}
    for guarded in (True, False):
        loop = build_reference(label, spec, "float32", seed=0, guarded=guarded)
        losses[guarded] = [float(loop.train_step(*loop.prepare_batch(X, y))) for _ in range(3)]
    assert losses[True] == pytest.approx(losses[False], rel=1e-6)
