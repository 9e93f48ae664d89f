"""The spec's layers as ``jax.numpy`` / ``jax.lax`` functions ``(layer_params, a) -> out``, differentiated by JAX.

The suite's layouts are JAX's when the dimension numbers say so (DESIGN.md section 6):

- dense: z = a @ W + b, W (fan_in, units).
- conv2d: ``lax.conv_general_dilated`` with ``("NHWC", "HWIO", "NHWC")`` (JAX's default is NCHW/OIHW), a
  cross-correlation; its "SAME" padding is TensorFlow's (the extra row or column of an odd total at the end).
- max_pool2d: ``lax.reduce_window`` with ``lax.max`` from the Python scalar −∞ (a scalar init value is what lets
  JAX recognise the max reduction and differentiate it); its gradient goes to the first maximum of each window. A
  plain ``jnp.max`` over window axes would split a tie's gradient instead.
- avg_pool2d: ``lax.reduce_window`` sums divided by the number of real (unpadded) elements of each window, itself a
  ``reduce_window`` sum of ones (flax's ``avg_pool`` counts the padding by default).
- flatten: a reshape, in (h, w, c) order.

A layer with an activation applies it after (:mod:`.activations`); the output activation of a loss computed from
logits is left to ``predict``.
"""

from __future__ import annotations

from typing import Callable

import jax.numpy as jnp
from jax import lax

from backprop.spec import Conv2DLayer, DenseLayer, FlattenLayer, Layer, MaxPool2DLayer, NetworkSpec

from .activations import linear, make_activation

LayerFunction = Callable[[dict, jnp.ndarray], jnp.ndarray]


def layer_functions(spec: NetworkSpec) -> list[LayerFunction]:
    """One function per spec layer, the last one ending at the logits when ``spec.loss_from_logits``."""
    functions = []
    for index, layer in enumerate(spec.layers):
        transform = _transform(layer)
        if isinstance(layer, (DenseLayer, Conv2DLayer)):
            activation = linear if index == len(spec.layers) - 1 and spec.loss_from_logits \
                else make_activation(layer)
            functions.append(_activated(transform, activation))
        else:
            functions.append(transform)
    return functions


def _activated(transform: LayerFunction, activation) -> LayerFunction:
    return lambda params, a: activation(transform(params, a), params)


def _transform(layer: Layer) -> LayerFunction:
    if isinstance(layer, DenseLayer):
        return lambda params, a: a @ params["W"] + params["b"]
    if isinstance(layer, Conv2DLayer):
        strides, padding = tuple(layer.strides), layer.padding.upper()

        def conv(params, a):
            z = lax.conv_general_dilated(a, params["W"], strides, padding,
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
            return z + params["b"]

        return conv
    if isinstance(layer, FlattenLayer):
        return lambda params, a: a.reshape(a.shape[0], -1)
    window, strides = (1, *layer.pool_size, 1), (1, *layer.strides, 1)
    padding = layer.padding.upper()
    if isinstance(layer, MaxPool2DLayer):
        return lambda params, a: lax.reduce_window(a, -jnp.inf, lax.max, window, strides, padding)

    def average(params, a):
        sums = lax.reduce_window(a, 0.0, lax.add, window, strides, padding)
        counts = lax.reduce_window(jnp.ones((1, *a.shape[1:3], 1), dtype=a.dtype), 0.0, lax.add, window,
                                   strides, padding)
        return sums / counts

    return average
