"""Activations in ``jax.numpy``, each a function ``(z, layer_params) -> a`` on pre-activations ``z`` (N, units).

``layer_params`` is the layer's dict of the parameter pytree (only prelu reads it, for ``alpha`` (units,)).
Derivatives come from JAX's autodiff. Constants are weak-typed Python floats, so a float32 layer stays float32
even with ``jax_enable_x64`` on.

leaky_relu is written as ``where(z > 0, z, s·z)`` rather than ``jax.nn.leaky_relu``: the latter branches on
``z >= 0``, so its derivative at z = 0 is 1, where DESIGN.md (and torch) give s. The values agree everywhere.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from backprop.spec import Activated

Activation = Callable[[jax.Array, dict], jax.Array]


def linear(z, layer_params):
    """a = z"""
    return z


def sigmoid(z, layer_params):
    """a = 1/(1+e^−z), via ``lax.logistic`` (no overflow at z = ±1000)"""
    return jax.nn.sigmoid(z)


def tanh(z, layer_params):
    """a = tanh z"""
    return jnp.tanh(z)


def relu(z, layer_params):
    """a = max(z, 0); ``jax.nn.relu``'s custom derivative is 0 at z = 0"""
    return jax.nn.relu(z)


def leaky_relu(negative_slope: float) -> Activation:
    """a = z if z > 0 else s·z, with the spec's explicit slope s (derivative s at z = 0, as in torch)"""
    slope = float(negative_slope)

    def apply(z, layer_params):
        return jnp.where(z > 0, z, z * slope)

    return apply


def prelu(z, layer_params):
    """a = z if z > 0 else α_j·z, with the learnable per-unit ``layer_params["alpha"]`` (units,)"""
    return jnp.where(z > 0, z, layer_params["alpha"] * z)


def softmax(z, layer_params):
    """a_c = e^{z_c − max z} / Σ_c' e^{z_c' − max z} over the last axis"""
    return jax.nn.softmax(z, axis=-1)


ACTIVATIONS: dict[str, Activation] = {"linear": linear, "sigmoid": sigmoid, "tanh": tanh, "relu": relu,
                                      "prelu": prelu, "softmax": softmax}


def make_activation(layer: Activated) -> Activation:
    """The activation function for one layer spec."""
    if layer.activation == "leaky_relu":
        return leaky_relu(layer.negative_slope)
    return ACTIVATIONS[layer.activation]
