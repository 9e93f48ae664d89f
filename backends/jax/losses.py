"""Losses with optax's own per-element losses; each maps ``(output, y)`` to per-row values (N,).

``output`` is the last layer's (N, k) output: the logits z for the from-logits losses (cross_entropy,
binary_cross_entropy), the activation a for mse. ``y`` is (N, k) in the same dtype. The spec's loss reduces the
row values (:func:`batch_loss`: their mean, or a sum); inference on a padded batch weighs the real rows 1 and the
padding 0 (:func:`weighted_batch_loss`).
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


def batch_loss(spec):
    """The spec's reduction of the row values ℓ_n: L = (1/N) Σ_n ℓ_n for "mean" (mse and binary_cross_entropy: over
    all N·k elements), else L = c₁·Σ_n ℓ_n with c₁ = ``spec.loss_scale(1)``, the reduction's factor for one row (k
    for a sum of mse or binary_cross_entropy, whose row values average over k; 1 for cross_entropy; halved for
    half_sum)."""
    row_loss = ROW_LOSSES[spec.loss]
    if spec.loss_reduction == "mean":
        return lambda output, y: jnp.mean(row_loss(output, y))
    factor = spec.loss_scale(1)
    return lambda output, y: jnp.sum(row_loss(output, y)) * factor


def weighted_batch_loss(spec):
    """:func:`batch_loss` over the rows with weight 1 of a batch padded with weight-0 rows: Σ_n w_n ℓ_n / Σ_n w_n
    for "mean", factor·Σ_n w_n ℓ_n otherwise."""
    row_loss = ROW_LOSSES[spec.loss]
    if spec.loss_reduction == "mean":
        return lambda output, y, w: jnp.sum(w * row_loss(output, y)) / jnp.sum(w)
    factor = spec.loss_scale(1)
    return lambda output, y, w: jnp.sum(w * row_loss(output, y)) * factor
