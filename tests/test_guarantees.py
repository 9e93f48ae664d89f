"""DESIGN.md section 8 on every backend: threads, copies and pickling, bounded inference memory, writeable
outputs, process-global state left alone, training under a caller's torch.no_grad, no recompiles per batch size."""

from __future__ import annotations

import copy
import gc
import os
import pickle
import threading

import numpy as np
import pytest

import backprop
from backprop.datasets import random_batch
from backprop.spec import mlp_spec

OPTIMIZERS = [{"name": "sgd", "lr": 0.05}, {"name": "momentum", "lr": 0.05, "nesterov": True},
              {"name": "adam", "lr": 0.01}]
SPEC = mlp_spec([6, 12, 4], "prelu", "softmax", "cross_entropy")


def trained(backend, optimizer, rng, dtype="float64", steps=3):
    spec = {**SPEC, "optimizer": optimizer}
    model = backprop.build(spec, backend=backend, dtype=dtype, seed=0)
    X, y = random_batch(spec, 16, rng)
    for _ in range(steps):
        model.train_step(X, y)
    return model, X, y


def assert_same_params(a, b):
    for got, expected in zip(a, b):
        assert got.keys() == expected.keys()
        for key in expected:
            np.testing.assert_array_equal(got[key], expected[key])


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=[o["name"] for o in OPTIMIZERS])
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copy_is_independent_and_trains_exactly_like_the_original(how, optimizer, backend, rng):
    model, X, y = trained(backend, optimizer, rng)
    twin = copy.deepcopy(model) if how == "deepcopy" else pickle.loads(pickle.dumps(model))
    assert type(twin) is type(model) and twin.mode == model.mode and twin.dtype == model.dtype
    assert_same_params(twin.get_params(), model.get_params())
    before = model.get_params()
    twin_losses = [twin.train_step(X, y) for _ in range(4)]
    assert_same_params(model.get_params(), before)
    assert twin.get_params()[0]["W"].tolist() != before[0]["W"].tolist()
    # Same parameters, optimizer state and step count: the original now takes exactly the twin's steps.
    assert [model.train_step(X, y) for _ in range(4)] == twin_losses
    assert_same_params(model.get_params(), twin.get_params())


def test_predict_from_several_threads_is_correct(backend, rng):
    model, _, _ = trained(backend, OPTIMIZERS[2], rng, dtype="float32")
    batches = [rng.normal(size=(n, 6)) for n in (32, 32, 7, 32)]
    expected = [model.predict(X) for X in batches]
    failures = []

    def work(index: int) -> None:
        X = batches[index]
        for _ in range(60):
            if not np.array_equal(model.predict(X), expected[index]):
                failures.append(index)
                return

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, f"wrong predictions in threads {failures}"


def test_training_does_not_corrupt_a_concurrent_predict(backend, rng):
    """Every prediction made while another thread trains equals the prediction of one of the parameter states
    between steps: never a mix of a half-applied update."""
    model, X, y = trained(backend, OPTIMIZERS[1], rng, dtype="float32", steps=1)
    probe = rng.normal(size=(8, 6))
    states, seen, done = [model.get_params()], [], threading.Event()

    def train() -> None:
        steps = 0
        while steps < 40 or (len(seen) < 20 and steps < 5000):
            model.train_step(X, y)
            states.append(model.get_params())
            steps += 1
        done.set()

    def watch() -> None:
        while not done.is_set():
            seen.append(model.predict(probe))

    threads = [threading.Thread(target=watch), threading.Thread(target=train)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reference = backprop.build({**SPEC, "optimizer": OPTIMIZERS[1]}, backend=backend, dtype="float32", seed=0)
    allowed = []
    for params in states:
        reference.set_params(params)
        allowed.append(reference.predict(probe))
    assert len(seen) >= 20
    for prediction in seen:
        assert any(np.array_equal(prediction, candidate) for candidate in allowed)


def test_outputs_are_writeable_arrays_owned_by_the_caller(backend, rng):
    model, X, y = trained(backend, OPTIMIZERS[2], rng)
    _, grads = model.loss_and_grads(X, y)
    arrays = [model.predict(X), *(v for layer in grads + model.get_params() for v in layer.values())]
    for array in arrays:
        assert isinstance(array, np.ndarray) and array.flags.writeable and array.flags.owndata
    before = model.predict(X)
    for array in arrays:
        array[...] = 0
    np.testing.assert_array_equal(model.predict(X), before)


def _global_state() -> dict:
    import jax
    import keras
    import torch

    return {"jax_enable_x64": jax.config.jax_enable_x64, "jnp.ones": str(jax.numpy.ones(2).dtype),
            "torch default dtype": torch.get_default_dtype(), "keras floatx": keras.config.floatx(),
            "numpy errstate": np.geterr(), "environment": dict(os.environ)}


def test_process_global_framework_state_is_left_alone(backend, rng):
    import jax

    before = _global_state()
    for dtype in ("float64", "float32"):
        model, X, y = trained(backend, OPTIMIZERS[2], rng, dtype=dtype)
        model.fit(X, y, epochs=2, batch_size=5)
        model.evaluate(X, y)
    assert _global_state() == before
    with jax.enable_x64(False):
        model, X, y = trained(backend, OPTIMIZERS[2], np.random.default_rng(7), dtype="float64")
        loss, grads = model.loss_and_grads(X, y)
        assert all(v.dtype == np.float64 for layer in grads + model.get_params() for v in layer.values())
        assert model.predict(X).dtype == np.float64
    reference, _, _ = trained("numpy", OPTIMIZERS[2], np.random.default_rng(7), dtype="float64")
    assert abs(loss - reference.loss_and_grads(X, y)[0]) <= 1e-9 * abs(loss)


@pytest.mark.parametrize("context", ["no_grad", "inference_mode"])
def test_training_works_inside_a_callers_torch_no_grad(context, backend, rng):
    import torch

    reference, X, y = trained(backend, OPTIMIZERS[2], np.random.default_rng(5), steps=2)
    with getattr(torch, context)():
        model, _, _ = trained(backend, OPTIMIZERS[2], np.random.default_rng(5), steps=2)
        loss, grads = model.loss_and_grads(X, y)
        model.fit(X, y, epochs=1, batch_size=16)
    reference.fit(X, y, epochs=1, batch_size=16)
    assert loss > 0 and all(np.all(np.isfinite(v)) for layer in grads for v in layer.values())
    assert_same_params(model.get_params(), reference.get_params())


def trace_count(model) -> int:
    """Compilations of the inference functions so far (0 for backends that run op by op)."""
    if model.backend == "tensorflow":
        return model._predict_fn.experimental_get_tracing_count() + model._loss_fn.experimental_get_tracing_count()
    if model.backend == "jax":
        return model._predict_fn._cache_size() + model._loss_fn._cache_size()
    return 0


def test_inference_on_many_batch_sizes_does_not_recompile_each_time(backend, rng):
    model, _, _ = trained(backend, OPTIMIZERS[0], rng, dtype="float32", steps=1)
    sizes = list(range(1, 21))
    for n in sizes:
        X, y = random_batch(SPEC, n, rng)
        model.predict(X)
        model.evaluate(X, y)
    # At most one trace per power of two (JAX's buckets 1, 2, ..., 32) per function; TF: one per function.
    assert trace_count(model) <= 2 * 6
    if backend == "tensorflow":
        assert trace_count(model) == 2


def test_inference_memory_does_not_grow_with_the_batch(backend):
    """predict and evaluate on 100 000 rows keep no workspace: memory after the call grows by about the output."""
    import psutil

    spec = {**mlp_spec([64, 128, 10], "relu", "softmax", "cross_entropy"), "optimizer": "adam"}
    model = backprop.build(spec, backend=backend, dtype="float64", seed=0)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(100_000, 64)), rng.integers(0, 10, 100_000)
    model.train_step(X[:32], y[:32])
    model.predict(X[:5000])
    gc.collect()
    process = psutil.Process()
    before = process.memory_info().rss
    out = model.predict(X)
    model.evaluate(X, y)
    gc.collect()
    grown = process.memory_info().rss - before
    assert out.shape == (100_000, 10)
    assert grown < out.nbytes + 150 * 2**20, f"resident memory grew by {grown / 2**20:.0f} MiB"


def test_numpy_inference_allocates_bounded_chunks():
    """The NumPy backend's own allocations (seen by tracemalloc): the peak during predict is the output plus a
    bounded chunk workspace, and what survives the call besides the output is bounded by one chunk, whatever N."""
    import tracemalloc

    from backprop.model import INFERENCE_CHUNK_ROWS

    spec = mlp_spec([64, 128, 10], "relu", "softmax", "cross_entropy")
    model = backprop.build(spec, backend="numpy", dtype="float64", seed=0)
    X = np.random.default_rng(0).normal(size=(100_000, 64))
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        out = model.predict(X)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    chunk = INFERENCE_CHUNK_ROWS * (64 + 128 + 10) * 8
    assert current - base < out.nbytes + chunk
    assert peak - base < out.nbytes + 4 * chunk
