"""Import from Keras and torch: for every supported layer type, a model built in the source framework with random
weights, converted, predicts the same on every backend; unsupported layers and options name themselves."""

from __future__ import annotations

import numpy as np
import pytest

import backprop
from backprop import SpecError
from backprop.tolerances import TOLERANCES, compare


def keras_models(dtype: str):
    """Keras models covering every supported layer type and option, with random weights and BN statistics."""
    import keras

    layers = keras.layers
    conv = keras.Sequential([keras.Input((9, 8, 2), dtype=dtype), layers.Conv2D(4, 3, padding="same", activation="relu",
                                                                  dtype=dtype),
                             layers.BatchNormalization(momentum=0.9, epsilon=1e-4, dtype=dtype),
                             layers.MaxPooling2D(2, dtype=dtype), layers.Conv2D(3, [2, 3], strides=[2, 1], dtype=dtype),
                             layers.LeakyReLU(negative_slope=0.125, dtype=dtype),
                             layers.AveragePooling2D(2, strides=1, padding="same", dtype=dtype),
                             layers.Flatten(dtype=dtype), layers.Dropout(0.3, dtype=dtype),
                             layers.Dense(6, dtype=dtype), layers.PReLU(dtype=dtype),
                             layers.Dense(3, dtype=dtype), layers.Softmax(dtype=dtype)])
    inputs = keras.Input((5,), dtype=dtype)
    hidden = layers.Dense(7, activation="tanh", dtype=dtype)(inputs)
    hidden = layers.BatchNormalization(dtype=dtype)(hidden)
    hidden = layers.Dense(4, dtype=dtype)(hidden)
    hidden = layers.Activation("sigmoid", dtype=dtype)(hidden)
    dense = keras.Model(inputs, layers.Dense(2, activation="sigmoid", dtype=dtype)(hidden))
    return {"conv": conv, "dense": dense}


def torch_models(dtype):
    from torch import nn

    conv = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(4, momentum=0.2, eps=1e-4),
                         nn.MaxPool2d(2), nn.Conv2d(4, 3, (2, 3), stride=(2, 1)), nn.LeakyReLU(0.15),
                         nn.AvgPool2d((1, 2), stride=1), nn.Flatten(), nn.BatchNorm1d(3 * 2 * 1), nn.Dropout(0.3),
                         nn.Sequential(nn.Linear(3 * 2 * 1, 6), nn.PReLU(6)), nn.Linear(6, 3), nn.Softmax(dim=1))
    dense = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.BatchNorm1d(7), nn.Identity(), nn.Linear(7, 4),
                          nn.Sigmoid(), nn.Linear(4, 2), nn.Sigmoid())
    return {"conv": (conv.to(dtype), (9, 8, 2)), "dense": (dense.to(dtype), (5,))}


def randomized(weights: list[np.ndarray], rng) -> list[np.ndarray]:
    """Random weights; variances (the last of a BN layer's four) kept positive."""
    return [np.abs(w) + 0.5 if w.ndim == 1 and i % 4 == 3 else rng.normal(0.0, 0.5, w.shape).astype(w.dtype)
            for i, w in enumerate(weights)]


def assert_every_backend_predicts(spec, params, X, expected, dtype):
    tolerance = TOLERANCES[("gradients", dtype)]
    for backend in backprop.available_backends():
        model = backprop.build(spec, backend=backend, dtype=dtype)
        model.set_params(params)
        assert compare(model.predict(X), expected, tolerance).passed, backend


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["conv", "dense"])
def test_keras_models_convert_and_predict_the_same_everywhere(name, dtype):
    rng = np.random.default_rng(0)
    model = keras_models(dtype)[name]
    for layer in model.layers:
        if layer.get_weights():
            names = [w.path for w in layer.weights]
            values = randomized(layer.get_weights(), rng)
            if any("moving_variance" in n for n in names):
                values = [np.abs(v) + 0.5 if "moving_variance" in n else v for v, n in zip(values, names)]
            layer.set_weights(values)
    spec, params = backprop.from_keras(model)
    assert spec.dtype == dtype
    X = rng.normal(size=(6, *spec.input_shape)).astype(dtype)
    expected = np.asarray(model(X, training=False))
    assert_every_backend_predicts(spec, params, X, expected, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["conv", "dense"])
def test_torch_modules_convert_and_predict_the_same_everywhere(name, dtype):
    import torch

    torch_dtype = getattr(torch, dtype)
    module, shape = torch_models(torch_dtype)[name]
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            if tensor.dtype.is_floating_point:
                tensor.copy_(torch.rand(tensor.shape, generator=generator, dtype=torch_dtype) + 0.5
                             if tensor.ndim == 1 else torch.randn(tensor.shape, generator=generator,
                                                                   dtype=torch_dtype) * 0.5)
    module.eval()
    spec, params = backprop.from_torch(module, input_shape=shape)
    X = np.random.default_rng(0).normal(size=(6, *shape)).astype(dtype)
    native = torch.from_numpy(X.transpose(0, 3, 1, 2).copy() if X.ndim == 4 else X)
    with torch.no_grad():
        expected = module(native).numpy()
    assert spec.dtype == dtype
    assert_every_backend_predicts(spec, params, X, expected, dtype)


def test_a_logits_model_gets_its_output_activation_from_the_loss():
    from torch import nn

    spec, _ = backprop.from_torch(nn.Sequential(nn.Linear(4, 3)), 4, loss="cross_entropy",
                                  optimizer={"name": "adam"})
    assert spec.layers[-1].activation == "softmax" and spec.optimizer.name == "adam"


@pytest.mark.bad_input
def test_unsupported_keras_layers_and_options_name_themselves():
    import keras

    cases = [(keras.layers.Conv2D(2, 3, dilation_rate=2, name="dilated"), "Conv2D 'dilated': option dilation_rate"),
             (keras.layers.Conv2D(2, 3, use_bias=False, name="nobias"), "Conv2D 'nobias': option use_bias"),
             (keras.layers.Conv2D(2, 3, activation="gelu", name="gelu"), "activation 'gelu' is not supported"),
             (keras.layers.GlobalAveragePooling2D(name="gap"), "no layer for Keras' GlobalAveragePooling2D")]
    for layer, text in cases:
        model = keras.Sequential([keras.Input((8, 8, 2)), layer, keras.layers.Flatten(), keras.layers.Dense(2)])
        with pytest.raises(SpecError, match=text):
            backprop.from_keras(model)


@pytest.mark.bad_input
def test_unsupported_torch_modules_and_options_name_themselves():
    from torch import nn

    cases = [(nn.Conv2d(2, 2, 3, dilation=2), r"Conv2d \(module 0\): option dilation"),
             (nn.Conv2d(2, 2, 3, groups=2), "option groups"),
             (nn.Conv2d(2, 2, 3, bias=False), "option bias=False"),
             (nn.Conv2d(2, 2, 3, padding=(1, 0)), r"padding=\(1, 0\) is neither"),
             (nn.MaxPool2d(2, ceil_mode=True), "option ceil_mode"),
             (nn.GELU(), "no layer for torch's GELU")]
    for module, text in cases:
        with pytest.raises(SpecError, match=text):
            backprop.from_torch(nn.Sequential(module, nn.Flatten(), nn.LazyLinear(2)), (8, 8, 2))
    with pytest.raises(SpecError, match="a relu activation layer is supported only right after"):
        backprop.from_torch(nn.Sequential(nn.Flatten(), nn.Linear(4, 2), nn.BatchNorm1d(2), nn.ReLU()), (2, 2, 1))
