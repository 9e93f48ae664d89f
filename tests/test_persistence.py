"""Saving and loading a model, and moving its optimizer state between backends (backprop/persistence.py,
backprop/optimizer_state.py): a model saved mid-training on one backend carries on on another exactly as if it had
never stopped, and every damaged or foreign file is refused with the suite's own error."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

import backprop
from backprop import InputError, SpecError
from backprop.agreement import OPTIMIZER_CASES, batch_schedule
from backprop.datasets import random_batch
from backprop.tolerances import TOLERANCES, compare

from .conftest import ADAPTERS
from .test_training_layers import DEFAULT_OPTIMIZERS, DENSE_TRAINING, mlp

adapters = pytest.mark.parametrize("backend", ADAPTERS, indirect=True)

STEPS = 50
OPTIMIZERS = [pytest.param(name, marks=[] if name in (*DEFAULT_OPTIMIZERS, "adam") else [pytest.mark.slow])
              for name in OPTIMIZER_CASES]


def train(model, X, y, batches) -> np.ndarray:
    return np.array([model.train_step(X[index], y[index]) for index in batches])


def assert_params_agree(got, expected, tolerance):
    for layer_got, layer_expected in zip(got, expected, strict=True):
        for key, value in layer_expected.items():
            result = compare(layer_got[key], value, tolerance)
            assert result.passed, (key, result)


def assert_same_state(got: dict, expected: dict) -> None:
    assert got["step"] == expected["step"] and set(got["slots"]) == set(expected["slots"])
    for name, layers in expected["slots"].items():
        for layer_got, layer_expected in zip(got["slots"][name], layers, strict=True):
            for key, value in layer_expected.items():
                np.testing.assert_array_equal(layer_got[key], value, err_msg=f"{name}/{key}")


def halfway_and_reference(spec: dict, tmp_path):
    """NumPy trained 2·STEPS steps uninterrupted (losses and parameters), and a file saved after the first STEPS."""
    X, y = random_batch(spec, 64, np.random.default_rng(6))
    batches = batch_schedule(len(X), 16, 2 * STEPS, seed=6)
    uninterrupted = backprop.build(spec, "numpy", "float64", seed=6)
    losses = train(uninterrupted, X, y, batches)
    halfway = backprop.build(spec, "numpy", "float64", seed=6)
    train(halfway, X, y, batches[:STEPS])
    return X, y, batches, losses, uninterrupted.get_params(), halfway, halfway.save(tmp_path / "halfway.npz")


@adapters
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_training_continues_on_another_backend_as_if_it_never_stopped(name, backend, tmp_path):
    """50 steps on NumPy, saved, loaded on the backend, 50 more: the 100-step trajectory of one uninterrupted run
    (trajectory tolerance), with the loaded optimizer state exactly the saved one."""
    X, y, batches, losses, expected, halfway, path = halfway_and_reference(mlp(OPTIMIZER_CASES[name]), tmp_path)
    model = backprop.load(path, backend=backend)
    assert_same_state(model.get_optimizer_state(), halfway.get_optimizer_state())
    tolerance = TOLERANCES[("trajectory", "float64")]
    assert compare(train(model, X, y, batches[STEPS:]), losses[STEPS:], tolerance).passed
    assert_params_agree(model.get_params(), expected, tolerance)


@adapters
def test_running_statistics_dropout_masks_and_schedule_carry_over(backend, tmp_path):
    """batch_norm's running statistics, the suite's dropout-mask generator and a cosine schedule's position all
    continue, so inference after the second half matches too."""
    spec = {**DENSE_TRAINING, "optimizer": OPTIMIZER_CASES["adamw-cosine"]}
    X, y, batches, losses, expected, _, path = halfway_and_reference(spec, tmp_path)
    model = backprop.load(path, backend=backend)
    tolerance = TOLERANCES[("trajectory", "float64")]
    assert compare(train(model, X, y, batches[STEPS:]), losses[STEPS:], tolerance).passed
    assert_params_agree(model.get_params(), expected, tolerance)
    assert set(expected[1]) == {"gamma", "beta", "running_mean", "running_var"}


@pytest.mark.parametrize("name", ["momentum", "adam", "rmsprop-centered-momentum", "adagrad-step"])
def test_a_backend_saves_what_it_loads_bit_for_bit(name, backend, tmp_path):
    """Each backend's own state survives save and load on the same backend exactly: the two copies take the next
    steps identically. The one exception is NumPy's fast Adam, which keeps rescaled moments m/(1 − β1) and
    v/(1 − β2) and converts them to the suite's m and v and back, one rounding each way (backends/numpy/optimizers.py):
    its copy's moments are within a unit in the last place and its steps within the trajectory tolerance."""
    spec = mlp(OPTIMIZER_CASES[name])
    X, y = random_batch(spec, 64, np.random.default_rng(7))
    batches = batch_schedule(len(X), 16, 20, seed=7)
    model = backprop.build(spec, backend, "float32", seed=7)
    train(model, X, y, batches[:10])
    copy = backprop.load(model.save(tmp_path / "model.npz"), backend=backend)
    if backend == "numpy" and name == "adam":
        state, expected = copy.get_optimizer_state(), model.get_optimizer_state()
        for slot, layers in expected["slots"].items():
            for layer_got, layer_expected in zip(state["slots"][slot], layers):
                for key, value in layer_expected.items():
                    np.testing.assert_array_max_ulp(layer_got[key], value, maxulp=1)
        tolerance = TOLERANCES[("trajectory", "float32")]
        assert compare(train(copy, X, y, batches[10:]), train(model, X, y, batches[10:]), tolerance).passed
        assert_params_agree(copy.get_params(), model.get_params(), tolerance)
        return
    assert_same_state(copy.get_optimizer_state(), model.get_optimizer_state())
    np.testing.assert_array_equal(train(copy, X, y, batches[10:]), train(model, X, y, batches[10:]))
    assert_same_state(copy.get_optimizer_state(), model.get_optimizer_state())


def test_the_state_is_read_before_the_first_step(backend):
    """Before any update every slot is its start value (adagrad's initial accumulator, zeros elsewhere)."""
    for name, start in [("adagrad", 0.1), ("rmsprop-centered-momentum", 0.0)]:
        model = backprop.build(mlp(OPTIMIZER_CASES[name]), backend, "float64", seed=0)
        state = model.get_optimizer_state()
        assert state["step"] == 0
        values = [value for layers in state["slots"].values() for layer in layers for value in layer.values()]
        assert values and all(np.all(value == start) for value in values)


@pytest.mark.parametrize("backend", ["tensorflow"], indirect=True)
def test_keras_native_optimizers_refuse_the_suite_form(backend):
    """Keras' native optimizers keep Keras' own slots (its momentum holds −lr·v), so they cannot be converted."""
    spec = mlp({**OPTIMIZER_CASES["momentum"], "native": True})
    model = backprop.build(spec, backend, "float32", seed=0)
    with pytest.raises(SpecError, match="optimizer.native"):
        model.get_optimizer_state()


@pytest.mark.parametrize("backend", ["jax"], indirect=True)
def test_optax_native_rmsprop_momentum_refuses_the_suite_form(backend):
    """optax's own rmsprop keeps its momentum after the learning rate (buf ← μ·buf + lr_t·g/d); its other native
    optimizers keep the suite's slots and convert."""
    native = backprop.build(mlp({**OPTIMIZER_CASES["rmsprop-centered-momentum"], "native": True}), backend,
                            "float32", seed=0)
    with pytest.raises(SpecError, match="optimizer.native"):
        native.get_optimizer_state()
    adam = backprop.build(mlp({**OPTIMIZER_CASES["adam"], "native": True}), backend, "float32", seed=0)
    X, y = random_batch(adam.spec, 8, np.random.default_rng(0))
    adam.train_step(X, y)
    state = adam.get_optimizer_state()
    assert state["step"] == 1 and set(state["slots"]) == {"m", "v"}


# ----- damaged and foreign files ---------------------------------------------------------------------------------

@pytest.fixture
def saved(tmp_path):
    spec = mlp(OPTIMIZER_CASES["adam"])
    X, y = random_batch(spec, 32, np.random.default_rng(0))
    model = backprop.build(spec, "numpy", "float64", seed=0)
    model.fit(X, y, epochs=1, batch_size=8)
    return model.save(tmp_path / "model.npz")


def rewrite_without(path, key: str):
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files if name != key}
    np.savez(path, **arrays)
    return path


@pytest.mark.bad_input
@pytest.mark.parametrize("damage, message", [
    (lambda path: path.with_name("missing.npz"), "no such file"),
    (lambda path: path.with_suffix(".pkl"), "ends in .npz"),
    (lambda path: path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2]) and path, "truncated or corrupt"),
    (lambda path: path.write_bytes(b"not a zip archive at all") and path, "truncated or corrupt"),
    (lambda path: np.savez(path, weights=np.zeros(3)) or path, "not a backprop model file"),
    (lambda path: rewrite_without(path, "optimizer/m/1/W"), "lacks 'optimizer/m/1/W'"),
    (lambda path: rewrite_without(path, "generators"), "lacks generators"),
], ids=["missing", "suffix", "truncated", "not-a-zip", "foreign", "missing-slot", "missing-generators"])
def test_damaged_or_foreign_files_are_refused(saved, damage, message):
    with pytest.raises(InputError, match=message):
        backprop.load(damage(saved))


@pytest.mark.bad_input
def test_a_slot_of_the_wrong_shape_is_refused(saved):
    with np.load(saved) as archive:
        arrays = dict(archive)
    arrays["optimizer/v/0/W"] = arrays["optimizer/v/0/W"][:, :-1]
    np.savez(saved, **arrays)
    with pytest.raises(InputError, match="does not hold a consistent model"):
        backprop.load(saved)
    assert zipfile.is_zipfile(saved)


@pytest.mark.bad_input
def test_set_optimizer_state_checks_before_changing_anything(backend):
    model = backprop.build(mlp(OPTIMIZER_CASES["adam"]), backend, "float64", seed=0)
    state = model.get_optimizer_state()
    for bad, message in [({"step": -1, "slots": state["slots"]}, "step"),
                         ({"step": 1, "slots": {"m": state["slots"]["m"]}}, "expects slots"),
                         ({"step": 1, "slots": {**state["slots"], "v": state["slots"]["m"][:1]}}, "v"),
                         ("adam", "expected a dict")]:
        with pytest.raises(InputError, match=message):
            model.set_optimizer_state(bad)
    assert_same_state(model.get_optimizer_state(), state)
