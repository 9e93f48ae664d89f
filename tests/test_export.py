"""``model.to_native()``: every backend hands over its network as the framework's own model object (a torch
``nn.Sequential``, a ``keras.Sequential``, a JAX function and its variables, a NumPy model), holding a copy of the
trained parameters and running statistics. Proof: after training, the native object computes ``model.predict`` on
every backend, it is independent of the model both ways, and torch's and Keras' exports convert back
(``from_torch``, ``from_keras``) to the same spec and parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

import backprop
from backprop.agreement import CNNS, TRAINING_LAYERS
from backprop.datasets import random_batch
from backprop.tolerances import TOLERANCES, compare

# Every layer type, activation and padding between them; leaky_relu's slope is a float32 number, since Keras' stock
# LeakyReLU computes with its slope rounded to float32 (backends/tensorflow/export.py).
LEAKY_MLP = {"input_dim": 5, "layers": [{"units": 7, "activation": "leaky_relu", "negative_slope": 0.125},
                                        {"type": "batch_norm", "momentum": 0.3}, {"units": 6, "activation": "prelu"},
                                        {"units": 2, "activation": "sigmoid"}], "loss": "binary_cross_entropy"}
SPECS = {"training-layers": TRAINING_LAYERS, "lenet-like": CNNS["lenet-like"],
         "overlapping-avg": CNNS["overlapping-avg"], "pool-first": CNNS["pool-first"], "leaky-mlp": LEAKY_MLP}


def trained(spec: dict, backend: str, dtype: str, steps: int = 5):
    """A model after a few steps, so that batch_norm's running statistics and prelu's alphas have moved."""
    model = backprop.build(spec, backend=backend, dtype=dtype, seed=3)
    rng = np.random.default_rng(4)
    for _ in range(steps):
        model.train_step(*random_batch(model.spec, 16, rng))
    return model


def native_predict(backend: str, native, X: np.ndarray, dtype: str) -> np.ndarray:
    """The exported object's inference output for suite-layout X, called as the framework's own users call it."""
    if backend.startswith("numpy"):
        return native.predict(X)
    if backend == "torch":
        import torch

        tensor = torch.from_numpy(np.ascontiguousarray(X.transpose(0, 3, 1, 2) if X.ndim == 4 else X))
        with torch.no_grad():
            return native(tensor).numpy()
    if backend == "tensorflow":
        return np.asarray(native(X, training=False))
    import jax

    predict, variables = native
    with jax.enable_x64(dtype == "float64"):
        return np.asarray(jax.jit(predict)(variables, X))


def change_native(backend: str, native) -> None:
    """Overwrite every parameter of the exported object in place with ones."""
    if backend.startswith("numpy"):
        native.set_params([{key: np.ones_like(value) for key, value in layer.items()} for layer in native.get_params()])
    elif backend == "torch":
        import torch

        with torch.no_grad():
            for parameter in native.parameters():
                parameter.fill_(1.0)
    elif backend == "tensorflow":
        for variable in native.weights:
            variable.assign(np.ones(variable.shape, dtype=variable.dtype))
    else:
        import jax
        import jax.numpy as jnp

        _, variables = native
        for layer in variables["params"]:
            for key in layer:
                with jax.enable_x64(layer[key].dtype == np.float64):
                    layer[key] = jnp.ones_like(layer[key])


# By default the network with every training-mode layer (both dtypes) and the leaky/prelu MLP; the rest run as slow.
DEFAULT_CASES = {("training-layers", "float64"), ("training-layers", "float32"), ("leaky-mlp", "float64")}
PREDICT_CASES = [pytest.param(name, dtype, marks=[] if (name, dtype) in DEFAULT_CASES else [pytest.mark.slow],
                              id=f"{name}-{dtype}")
                 for name in SPECS for dtype in ("float64", "float32")]


@pytest.mark.parametrize("name,dtype", PREDICT_CASES)
def test_the_native_model_predicts_like_the_model(name, dtype, backend):
    model = trained(SPECS[name], backend, dtype)
    X = random_batch(model.spec, 9, np.random.default_rng(5))[0].astype(dtype)
    expected = model.predict(X)
    got = native_predict(backend, model.to_native(), X, dtype)
    assert got.dtype == np.dtype(dtype)
    assert compare(got, expected, TOLERANCES[("gradients", dtype)]).passed, np.max(np.abs(got - expected))


@pytest.mark.parametrize("backend", ["numpy", "numpy:reference", "torch", "tensorflow", "jax"], indirect=True)
def test_the_native_model_is_independent_of_the_model(backend):
    """Training the model leaves the export as it was; changing the export leaves the model as it was."""
    model = trained(TRAINING_LAYERS, backend, "float64")
    X = random_batch(model.spec, 6, np.random.default_rng(5))[0]
    native = model.to_native()
    exported, before = native_predict(backend, native, X, "float64"), model.predict(X)
    model.train_step(*random_batch(model.spec, 16, np.random.default_rng(6)))
    assert not np.allclose(model.predict(X), before)
    assert np.array_equal(native_predict(backend, native, X, "float64"), exported)
    after = model.predict(X)
    change_native(backend, native)
    assert not np.allclose(native_predict(backend, native, X, "float64"), exported)
    assert np.array_equal(model.predict(X), after)


def same_layers(converted, spec) -> bool:
    """The same layers, options equal up to the rounding of Keras' momentum 1 − m. A prelu layer's ``alpha_init``
    is where training started, not part of the trained network (its alphas are parameters), so it is not compared."""
    for mine, theirs in zip(converted.to_dict()["layers"], spec.to_dict()["layers"], strict=True):
        mine, theirs = ({key: value for key, value in layer.items() if key != "alpha_init"} for layer in (mine, theirs))
        if mine.keys() != theirs.keys():
            return False
        for key, value in mine.items():
            other = theirs[key]
            if isinstance(value, float) and not math.isclose(value, other, rel_tol=1e-12):
                return False
            if not isinstance(value, float) and value != other:
                return False
    return True


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["training-layers", "leaky-mlp"])
@pytest.mark.parametrize("backend", ["torch", "tensorflow"], indirect=True)
def test_torch_and_keras_exports_convert_back_to_the_same_spec_and_parameters(name, dtype, backend):
    model = trained(SPECS[name], backend, dtype)
    native = model.to_native()
    if backend == "torch":
        spec, params = backprop.from_torch(native, model.spec.input_shape, loss=model.spec.loss)
    else:
        spec, params = backprop.from_keras(native, loss=model.spec.loss)
    assert spec.dtype == dtype and tuple(spec.input_shape) == tuple(model.spec.input_shape)
    assert same_layers(spec, model.spec)
    for mine, theirs in zip(params, model.get_params(), strict=True):
        assert mine.keys() == theirs.keys()
        for key in mine:
            assert mine[key].dtype == np.dtype(dtype)
            assert np.allclose(mine[key], theirs[key], rtol=1e-6 if dtype == "float32" else 1e-15, atol=0), key
