"""``backprop.from_keras(model)``: a Keras 3 Sequential or functional chain as a spec and its parameters.

Supported: ``Dense``, ``Conv2D``, ``MaxPooling2D``, ``AveragePooling2D``, ``Flatten``, ``Dropout``,
``BatchNormalization`` and activations given as arguments or as layers (``Activation``, ``ReLU``, ``LeakyReLU``,
``PReLU``, ``Softmax``) right after a dense or conv layer. Keras' layouts are the suite's (NHWC, HWIO kernels), so
weights are copied as they are. Options are carried over exactly: a LeakyReLU's slope, a BatchNormalization's
momentum (Keras' m is the suite's 1 − m) and epsilon. Anything else (dilation, groups, ``use_bias=False``,
``channels_first``, other activations) is a :class:`~backprop.errors.SpecError` naming the layer and the option.
Keras' moving variance is biased where the suite's running variance is unbiased: the converted values predict the
same, and further training moves them the suite's way. Keras' ``LeakyReLU`` computes with its slope rounded to
float32 (``tf.nn.leaky_relu``); the converted layer uses the configured slope exactly, so a float64 model whose slope
is not a float32 number (0.15, not 0.125) predicts ~1e-9 differently from its Keras original.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SpecError
from .builder import Builder

ACTIVATIONS = {"linear": "linear", "relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "softmax": "softmax",
               "leaky_relu": "leaky_relu"}


def from_keras(model: Any, loss: str | None = None, optimizer: Any = None) -> tuple:
    """``(spec, params)`` for a Keras model; ``loss`` defaults from the output activation (softmax: cross_entropy,
    sigmoid: binary_cross_entropy, else mse) and ``optimizer`` to the spec's default (a model has none)."""
    import keras

    if not isinstance(model, keras.Model):
        raise SpecError(f"model: expected a Keras Model, got {type(model).__name__}")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise SpecError(f"model: expected one input and one output, got {len(model.inputs)} and {len(model.outputs)}")
    builder = Builder(model.input_shape[1:])
    for layer in _chain(model, keras):
        _convert(builder, layer, keras)
    dtypes = {weight.dtype for weight in model.weights}
    return builder.result(f"Keras model {model.name!r}", loss, optimizer,
                          "float64" if dtypes == {"float64"} else "float32")


def _chain(model, keras) -> list:
    """The model's layers in order, checking that each one takes the previous one's output (a chain). A
    ``keras.Sequential`` is one by construction (and one built with ``add`` keeps the symbolic tensors of its
    first build on its layers, so they cannot be compared)."""
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    if isinstance(model, keras.Sequential):
        return layers
    for before, layer in zip(layers, layers[1:]):
        if getattr(layer, "input", None) is not None and getattr(before, "output", None) is not None \
                and layer.input is not before.output:
            raise SpecError(f"{type(layer).__name__} {layer.name!r}: the model is not a chain (its input is not "
                            f"{before.name!r}'s output); only sequential chains convert")
    return layers


def _require(where: str, config: dict, expected: dict) -> None:
    for option, value in expected.items():
        if option in config and config[option] not in (value if isinstance(value, tuple) else (value,)):
            raise SpecError(f"{where}: option {option}={config[option]!r} is not supported (the suite needs "
                            f"{value!r})")


def _activation(where: str, name: str) -> str:
    if name not in ACTIVATIONS:
        raise SpecError(f"{where}: activation {name!r} is not supported; supported are {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _convert(builder: Builder, layer, keras) -> None:
    where, kind, config = f"{type(layer).__name__} {layer.name!r}", type(layer).__name__, layer.get_config()
    weights = [np.asarray(weight) for weight in layer.get_weights()]
    if kind == "Dense":
        _require(where, config, {"use_bias": True})
        activation = _activation(where, keras.activations.serialize(layer.activation))
        builder.add({"units": config["units"], "activation": "linear"}, {"W": weights[0], "b": weights[1]}, where)
        _merge(builder, where, activation)
    elif kind == "Conv2D":
        _require(where, config, {"use_bias": True, "data_format": "channels_last", "dilation_rate": ((1, 1),),
                                 "groups": 1, "padding": ("valid", "same")})
        activation = _activation(where, keras.activations.serialize(layer.activation))
        builder.add({"type": "conv2d", "filters": config["filters"], "kernel_size": list(config["kernel_size"]),
                     "strides": list(config["strides"]), "padding": config["padding"]},
                    {"W": weights[0], "b": weights[1]}, where)
        _merge(builder, where, activation)
    elif kind in ("MaxPooling2D", "AveragePooling2D"):
        _require(where, config, {"data_format": "channels_last"})
        builder.add({"type": "max_pool2d" if kind == "MaxPooling2D" else "avg_pool2d",
                     "pool_size": list(config["pool_size"]), "strides": list(config["strides"]),
                     "padding": config["padding"]}, where=where)
    elif kind == "Flatten":
        _require(where, config, {"data_format": ("channels_last", None)})
        builder.add({"type": "flatten"}, where=where)
    elif kind == "Dropout":
        _require(where, config, {"noise_shape": None})
        builder.add({"type": "dropout", "rate": config["rate"]}, where=where)
    elif kind == "BatchNormalization":
        _require(where, config, {"axis": (-1, len(builder.shape)), "center": True, "scale": True})
        gamma, beta, mean, variance = weights
        builder.add({"type": "batch_norm", "momentum": 1.0 - config["momentum"], "eps": config["epsilon"]},
                    {"gamma": gamma, "beta": beta, "running_mean": mean, "running_var": variance}, where)
    elif kind == "Activation":
        _merge(builder, where, _activation(where, keras.activations.serialize(layer.activation)))
    elif kind == "ReLU":
        _require(where, config, {"max_value": None, "negative_slope": 0.0, "threshold": 0.0})
        builder.activation("relu", where)
    elif kind == "LeakyReLU":
        builder.activation("leaky_relu", where, negative_slope=config["negative_slope"])
    elif kind == "PReLU":
        builder.activation("prelu", where, alpha=weights[0])
    elif kind == "Softmax":
        _require(where, config, {"axis": (-1, 1)})
        builder.activation("softmax", where)
    else:
        raise SpecError(f"{where}: the suite has no layer for Keras' {kind}")


def _merge(builder: Builder, where: str, activation: str) -> None:
    """An activation argument or an ``Activation`` layer (linear is none); Keras' leaky_relu function has slope 0.2."""
    if activation != "linear":
        builder.activation(activation, where, negative_slope=0.2 if activation == "leaky_relu" else None)
