"""Mean-reduced losses with optax's own per-element losses; each maps ``(output, y)`` to a scalar.

``output`` is the last layer's (N, k) output: the logits z for the from-logits losses (cross_entropy,
binary_cross_entropy), the activation a for mse. ``y`` is (N, k) in the same dtype.
"""

from __future__ import annotations

import jax.numpy as jnp
import optax


def mean_squared_error(a, y):
    """L = (1/(N·k)) Σ (a − y)²   (``optax.squared_error`` is (a − y)², no ½)"""
    return jnp.mean(optax.squared_error(a, y))


def cross_entropy(z, y):
    """L = −(1/N) Σ_n Σ_c y_nc · log_softmax(z)_nc   (``optax.softmax_cross_entropy`` sums over c, one value per n)"""
    return jnp.mean(optax.softmax_cross_entropy(z, y))


def binary_cross_entropy(z, y):
    """L = (1/(N·k)) Σ −y·log σ(z) − (1−y)·log σ(−z)   (element-wise ``optax.sigmoid_binary_cross_entropy``)"""
    return jnp.mean(optax.sigmoid_binary_cross_entropy(z, y))


LOSSES = {"mse": mean_squared_error, "cross_entropy": cross_entropy, "binary_cross_entropy": binary_cross_entropy}
