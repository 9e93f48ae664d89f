"""The spec's layers as Keras 3 layers, every one built in the model dtype.

Keras computes in NHWC with HWIO conv kernels, the suite's own layouts, and its padding and pooling follow
TensorFlow's rules, which are the suite's definitions (DESIGN.md section 6):

- dense: ``Dense(units)``; kernel (fan_in, units).
- conv2d: ``Conv2D(filters, kernel_size, strides, padding)``, a cross-correlation; kernel (kh, kw, C_in, filters).
  "same" is TensorFlow's (out = ⌈in/stride⌉, an odd total pad's extra row or column at the bottom/right).
- max_pool2d: ``MaxPooling2D``; its gradient goes to the first maximum of each window.
- avg_pool2d: ``AveragePooling2D``; with "same" padding it divides by the window's real elements.
- flatten: ``Flatten``, in (h, w, c) order.

A layer with an activation is followed by the activation layer of :mod:`.activations` (none for linear, nor for
the output activation that a loss computed from logits folds in). A prelu on a conv layer shares its alpha over
(H, W): Keras stores it as (1, 1, filters), the suite as (filters,); the model reshapes on read and write.
"""

from __future__ import annotations

import keras

from backprop.spec import Conv2DLayer, DenseLayer, FlattenLayer, Layer, MaxPool2DLayer, NetworkSpec

from .activations import make_activation


def keras_layers(spec: NetworkSpec, dtype: str) -> tuple[list, list[dict[str, keras.Variable]]]:
    """The Keras layers of ``spec`` in order (ending at the logits when ``spec.loss_from_logits``), and each spec
    layer's variables by the suite's names (``{}`` for layers without parameters)."""
    layers, variables = [], []
    for index, layer in enumerate(spec.layers):
        main = _layer(layer, dtype)
        layers.append(main)
        folded = index == len(spec.layers) - 1 and spec.loss_from_logits
        activation = getattr(layer, "activation", "linear")
        after = None if folded or activation == "linear" else make_activation(layer, dtype,
                                                                              conv=isinstance(layer, Conv2DLayer))
        if after is not None:
            layers.append(after)
        variables.append((main, after))
    return layers, variables


def layer_variables(main: keras.layers.Layer, after: keras.layers.Layer | None) -> dict[str, keras.Variable]:
    """A built layer's variables by the suite's names: W, b and a prelu's alpha."""
    if not isinstance(main, (keras.layers.Dense, keras.layers.Conv2D)):
        return {}
    found = {"W": main.kernel, "b": main.bias}
    if after is not None and hasattr(after, "alpha"):
        found["alpha"] = after.alpha
    return found


def _layer(layer: Layer, dtype: str) -> keras.layers.Layer:
    if isinstance(layer, DenseLayer):
        return keras.layers.Dense(layer.units, dtype=dtype)
    if isinstance(layer, Conv2DLayer):
        return keras.layers.Conv2D(layer.filters, layer.kernel_size, strides=layer.strides, padding=layer.padding,
                                   dtype=dtype)
    if isinstance(layer, FlattenLayer):
        return keras.layers.Flatten(dtype=dtype)
    pooling = keras.layers.MaxPooling2D if isinstance(layer, MaxPool2DLayer) else keras.layers.AveragePooling2D
    return pooling(layer.pool_size, strides=layer.strides, padding=layer.padding, dtype=dtype)
