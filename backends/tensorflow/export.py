"""``model.to_native()`` on the TensorFlow backend: an ordinary ``keras.Sequential`` of Keras' own layers, holding a
copy of the model's current parameters and moving statistics, independent of the model.

Keras' layouts are the suite's (NHWC images, HWIO conv kernels, (fan_in, units) dense kernels, (h, w, c)
flatten), so the values go in as they are; ``backprop.from_keras`` reads the model back to the same spec and
parameters. Each layer is built in the model dtype:

- dense, conv2d: ``Dense``, ``Conv2D`` (TensorFlow's "same" padding is the suite's) and the activation as its own
  layer: ``Activation``, ``LeakyReLU(negative_slope)`` or ``PReLU`` (alpha (units,), or (1, 1, filters) shared
  over height and width on a conv layer);
- max_pool2d, avg_pool2d, flatten: ``MaxPooling2D``, ``AveragePooling2D``, ``Flatten``;
- dropout: ``Dropout(rate)``;
- batch_norm: ``BatchNormalization(momentum = 1 − m, epsilon = eps)`` with gamma, beta and the moving statistics.
  In inference it computes the suite's layer; training it in Keras moves ``moving_variance`` with the biased batch
  variance, where the suite (torch's convention) uses the unbiased one (DESIGN.md section 7);
- the output activation comes last, so ``keras_model(X, training=False)`` and ``keras_model.predict(X)`` compute
  ``model.predict``.

Keras' stock ``LeakyReLU`` passes its slope to ``tf.nn.leaky_relu`` as a float32 attribute, so a float64 export's
leaky_relu layers differ from the model by that rounding (about 2e-8 relative); the suite's own model uses an exact
slope (:mod:`.activations`).
"""

from __future__ import annotations

import keras
import numpy as np

from backprop.model import Params
from backprop.spec import (Activated, BatchNormLayer, Conv2DLayer, DenseLayer, DropoutLayer, FlattenLayer, Layer,
                           MaxPool2DLayer, NetworkSpec)

# The suite's parameter name of each Keras variable name.
SUITE_NAMES = {"kernel": "W", "bias": "b", "gamma": "gamma", "beta": "beta", "moving_mean": "running_mean",
               "moving_variance": "running_var"}


def native_model(spec: NetworkSpec, params: Params, dtype: str) -> keras.Sequential:
    """``spec`` as a ``keras.Sequential`` of stock Keras layers with ``params`` (the suite's layout) set."""
    layers = keras.layers
    model = keras.Sequential([keras.Input(spec.input_shape, dtype=dtype)])
    for layer, values in zip(spec.layers, params):
        main = _layer(layer, dtype)
        model.add(main)
        for variable in main.weights:
            variable.assign(values[SUITE_NAMES[variable.path.rsplit("/", 1)[-1]]])
        if isinstance(layer, Activated) and layer.activation != "linear":
            activation = _activation(layer, dtype, conv=isinstance(layer, Conv2DLayer))
            model.add(activation)
            if layer.activation == "prelu":
                activation.alpha.assign(np.reshape(values["alpha"], activation.alpha.shape))
    return model


def _layer(layer: Layer, dtype: str) -> keras.layers.Layer:
    layers = keras.layers
    if isinstance(layer, DenseLayer):
        return layers.Dense(layer.units, dtype=dtype)
    if isinstance(layer, Conv2DLayer):
        return layers.Conv2D(layer.filters, layer.kernel_size, strides=layer.strides, padding=layer.padding,
                             dtype=dtype)
    if isinstance(layer, FlattenLayer):
        return layers.Flatten(dtype=dtype)
    if isinstance(layer, DropoutLayer):
        return layers.Dropout(float(layer.rate), dtype=dtype)
    if isinstance(layer, BatchNormLayer):
        return layers.BatchNormalization(momentum=1.0 - float(layer.momentum), epsilon=float(layer.eps), dtype=dtype)
    pooling = layers.MaxPooling2D if isinstance(layer, MaxPool2DLayer) else layers.AveragePooling2D
    return pooling(layer.pool_size, strides=layer.strides, padding=layer.padding, dtype=dtype)


def _activation(layer: Activated, dtype: str, conv: bool) -> keras.layers.Layer:
    layers = keras.layers
    if layer.activation == "leaky_relu":
        return layers.LeakyReLU(negative_slope=float(layer.negative_slope), dtype=dtype)
    if layer.activation == "prelu":
        return layers.PReLU(shared_axes=[1, 2] if conv else None, dtype=dtype)
    return layers.Activation(layer.activation, dtype=dtype)
