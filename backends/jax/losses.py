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


def _reduction_factor(name: str, reduction: str, outputs: int) -> float:
    """What the sum of the row values is multiplied by: the k outputs a row value of mse or binary_cross_entropy
    averages over (a sum over all elements, torch's ``reduction="sum"``), halved for mse's "half_sum"."""
    factor = 1.0 if name == "cross_entropy" else float(outputs)
    return factor / 2.0 if reduction == "half_sum" else factor


def batch_loss(name: str, reduction: str, outputs: int):
    """The spec's reduction of the row values ℓ_n: L = (1/N) Σ_n ℓ_n for "mean" (mse and binary_cross_entropy: over
    all N·k elements), else L = factor·Σ_n ℓ_n (:func:`_reduction_factor`)."""
    row_loss = ROW_LOSSES[name]
    if reduction == "mean":
        return lambda output, y: jnp.mean(row_loss(output, y))
    factor = _reduction_factor(name, reduction, outputs)
    return lambda output, y: jnp.sum(row_loss(output, y)) * factor


def weighted_batch_loss(name: str, reduction: str, outputs: int):
    """:func:`batch_loss` over the rows with weight 1 of a batch padded with weight-0 rows: Σ_n w_n ℓ_n / Σ_n w_n
    for "mean", factor·Σ_n w_n ℓ_n otherwise."""
    row_loss = ROW_LOSSES[name]
    if reduction == "mean":
        return lambda output, y, w: jnp.sum(w * row_loss(output, y)) / jnp.sum(w)
    factor = _reduction_factor(name, reduction, outputs)
    return lambda output, y, w: jnp.sum(w * row_loss(output, y)) * factor
