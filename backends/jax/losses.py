"""Losses with optax's own per-element losses; each maps ``(output, y)`` to per-row values (N,).

``output`` is the last layer's (N, k) output: the logits z for the from-logits losses (cross_entropy,
binary_cross_entropy), the activation a for mse. ``y`` is (N, k) in the same dtype. The spec's mean loss is the
mean of the row values (:func:`mean_loss`); inference on a padded batch takes a weighted mean over the real rows
(:func:`weighted_mean_loss`).
"""

from __future__ import annotations

import jax.numpy as jnp
import optax


def mean_squared_error(a, y):
    """ℓ_n = (1/k) Σ_j (a_nj − y_nj)²   (``optax.squared_error`` is (a − y)², no ½)"""
    return jnp.mean(optax.squared_error(a, y), axis=-1)


def cross_entropy(z, y):
    """ℓ_n = −Σ_c y_nc · log_softmax(z)_nc   (``optax.softmax_cross_entropy``, one value per row)"""
    return optax.softmax_cross_entropy(z, y)


def binary_cross_entropy(z, y):
    """ℓ_n = (1/k) Σ_j −y·log σ(z) − (1−y)·log σ(−z)   (element-wise ``optax.sigmoid_binary_cross_entropy``)"""
    return jnp.mean(optax.sigmoid_binary_cross_entropy(z, y), axis=-1)


ROW_LOSSES = {"mse": mean_squared_error, "cross_entropy": cross_entropy,
              "binary_cross_entropy": binary_cross_entropy}


def mean_loss(name: str):
    """L = (1/N) Σ_n ℓ_n: the spec's mean reduction (mse and binary_cross_entropy: over all N·k elements)."""
    row_loss = ROW_LOSSES[name]
    return lambda output, y: jnp.mean(row_loss(output, y))


def weighted_mean_loss(name: str):
    """L = Σ_n w_n ℓ_n / Σ_n w_n: the mean over the rows with weight 1 of a batch padded with weight-0 rows."""
    row_loss = ROW_LOSSES[name]
    return lambda output, y, w: jnp.sum(w * row_loss(output, y)) / jnp.sum(w)
