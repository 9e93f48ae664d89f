"""Same seed, same numbers: initialization is bit-identical on every backend and run; training is repeatable."""

import numpy as np
import pytest

import backprop
from backprop.datasets import random_batch
from backprop.init import init_params
from backprop.spec import as_spec, mlp_spec

SPEC = mlp_spec([6, 9, 4, 3], "prelu", "softmax", "cross_entropy", optimizer="adam")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_initial_parameters_are_bit_identical_on_every_backend(backend, dtype):
    model = backprop.build(SPEC, backend=backend, dtype=dtype, seed=7)
    reference = init_params(as_spec(SPEC), np.dtype(dtype), 7)
    for got, expected in zip(model.get_params(), reference):
        assert got.keys() == expected.keys()
        for key in expected:
            assert got[key].dtype == expected[key].dtype
            np.testing.assert_array_equal(got[key], expected[key])


@pytest.mark.parametrize("init", ["glorot_uniform", "he_normal", "uniform"])
def test_seed_decides_initialization(init):
    spec = as_spec({**SPEC, "init": init})
    first, again, other = (init_params(spec, np.dtype("float64"), seed) for seed in (3, 3, 4))
    assert all(np.array_equal(a["W"], b["W"]) for a, b in zip(first, again))
    assert not np.array_equal(first[0]["W"], other[0]["W"])
    assert np.all(first[1]["alpha"] == 0.25)


def test_float32_init_is_rounded_float64_init():
    spec = as_spec(SPEC)
    for p32, p64 in zip(init_params(spec, np.float32, 0), init_params(spec, np.float64, 0)):
        np.testing.assert_array_equal(p32["W"], p64["W"].astype(np.float32))


def test_fit_is_repeatable(rng):
    X, y = random_batch(SPEC, 50, rng)
    histories, finals = [], []
    for _ in range(2):
        model = backprop.build(SPEC, backend="numpy", dtype="float64", seed=1)
        histories.append(model.fit(X, y, epochs=3, batch_size=8, seed=5))
        finals.append(model.get_params())
    assert histories[0] == histories[1]
    assert all(np.array_equal(a["W"], b["W"]) for a, b in zip(*finals))
