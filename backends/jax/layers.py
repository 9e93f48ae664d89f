"""The spec's layers as pure ``jax.numpy`` / ``jax.lax`` functions, differentiated by JAX.

Every layer is a function ``(params, stats, a, training, mask) -> (out, stats)``: ``params`` is the layer's dict of
the trainable pytree (what ``value_and_grad`` differentiates and optax updates), ``stats`` its dict of the state
pytree (batch_norm's running statistics, ``{}`` elsewhere), ``training`` a Python bool fixed when the function is
traced, and ``mask`` the layer's dropout mask in training (None elsewhere). The returned ``stats`` are the new
running statistics; a layer without state returns its ``stats`` as they came.

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
- dropout: out = a ⊙ m in training (m is 0 or 1/(1 − rate), the suite's mask or one from :func:`native_masks`),
  out = a in inference.
- batch_norm: :func:`batch_norm_training` and :func:`batch_norm_inference`, written here in ``jax.numpy`` because
  flax (not a dependency) writes the momentum the other way round, running ← m·running + (1 − m)·batch, and moves
  the running variance with the biased batch variance; the spec's are torch's.

A layer with an activation applies it after (:mod:`.activations`); the output activation of a loss computed from
logits is left to ``predict``.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jax import lax

from backprop.spec import (BatchNormLayer, Conv2DLayer, DenseLayer, DropoutLayer, FlattenLayer, Layer,
                           MaxPool2DLayer, NetworkSpec)

from .activations import linear, make_activation

LayerFunction = Callable[[dict, dict, jax.Array, bool, jax.Array | None], tuple[jax.Array, dict]]


def layer_functions(spec: NetworkSpec) -> list[LayerFunction]:
    """One function per spec layer, the last one ending at the logits when ``spec.loss_from_logits``."""
    functions = []
    for index, layer in enumerate(spec.layers):
        if isinstance(layer, DropoutLayer):
            functions.append(_dropout)
        elif isinstance(layer, BatchNormLayer):
            functions.append(_batch_norm(layer))
        elif isinstance(layer, (DenseLayer, Conv2DLayer)):
            activation = linear if index == len(spec.layers) - 1 and spec.loss_from_logits \
                else make_activation(layer)
            functions.append(_stateless(_activated(_transform(layer), activation)))
        else:
            functions.append(_stateless(_transform(layer)))
    return functions


def _stateless(function: Callable[[dict, jax.Array], jax.Array]) -> LayerFunction:
    """A layer that computes the same in training and inference and has no running statistics."""
    return lambda params, stats, a, training, mask: (function(params, a), stats)


def _activated(transform, activation):
    return lambda params, a: activation(transform(params, a), params)


def _transform(layer: Layer) -> Callable[[dict, jax.Array], jax.Array]:
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


def _dropout(params, stats, a, training, mask):
    """out = a ⊙ m in training (inverted dropout: the 1/(1 − rate) is in the mask), a in inference."""
    return (a * mask if training else a), stats


def native_masks(spec: NetworkSpec, key: jax.Array, rows: int, dtype) -> tuple[jax.Array, list[jax.Array]]:
    """This backend's own dropout masks (``dropout_rng: "native"``) for a batch of ``rows``, and the next key.

    The key is split into the next key and one subkey per dropout layer, inside the traced step (no host round
    trip, no global state). Each mask is m = [u ≥ rate]/(1 − rate), u ~ U[0, 1) drawn in float32 whatever the
    model dtype and whatever the caller's ``jax_enable_x64`` (``jax.random.bernoulli`` would draw in the default
    float type, so the flag would change the masks), then cast to ``dtype``.
    """
    key, *subkeys = jax.random.split(key, len(spec.dropout_layers) + 1)
    masks = []
    for subkey, index in zip(subkeys, spec.dropout_layers):
        rate = float(spec.layers[index].rate)
        keep = jax.random.uniform(subkey, (rows, *spec.input_shapes[index]), dtype=jnp.float32) >= rate
        masks.append(keep.astype(dtype) * (1.0 / (1.0 - rate)))
    return key, masks


def _batch_norm(layer: BatchNormLayer) -> LayerFunction:
    momentum, eps = float(layer.momentum), float(layer.eps)

    def apply(params, stats, a, training, mask):
        if training:
            return batch_norm_training(params, stats, a, momentum, eps)
        return batch_norm_inference(params, stats, a, eps), stats

    return apply


def batch_norm_training(params: dict, stats: dict, a: jax.Array, momentum: float, eps: float
                        ) -> tuple[jax.Array, dict]:
    """Normalize each feature (the last axis) over the batch, and return the running statistics it moves to.

    With m = the values per feature (N for vectors, N·H·W for images):
        μ = (1/m) Σ a       σ² = (1/m) Σ (a − μ)²  (biased)       out = γ·(a − μ)/√(σ² + eps) + β
        running_mean ← (1 − momentum)·running_mean + momentum·μ
        running_var  ← (1 − momentum)·running_var + momentum·σ²·m/(m − 1)   (the unbiased batch variance)
    (torch's conventions; flax's ``BatchNorm`` would weight the running side by ``momentum`` and keep σ²). The
    gradient of ``out`` comes from autodiff through μ and σ²; the new statistics leave as ``value_and_grad``'s
    auxiliary output, never differentiated. Constants are weak-typed Python floats, so a float32 layer stays float32.
    """
    axes = tuple(range(a.ndim - 1))
    count = a.size // a.shape[-1]
    mean = jnp.mean(a, axis=axes)
    centered = a - mean
    variance = jnp.mean(centered * centered, axis=axes)
    out = centered * (1.0 / jnp.sqrt(variance + eps)) * params["gamma"] + params["beta"]
    keep = 1.0 - momentum
    return out, {"running_mean": stats["running_mean"] * keep + momentum * mean,
                 "running_var": stats["running_var"] * keep + momentum * variance * (count / (count - 1))}


def batch_norm_inference(params: dict, stats: dict, a: jax.Array, eps: float) -> jax.Array:
    """out = γ·(a − running_mean)/√(running_var + eps) + β, row by row: padded rows change nothing."""
    return (a - stats["running_mean"]) / jnp.sqrt(stats["running_var"] + eps) * params["gamma"] + params["beta"]
