"""Mean-reduced Keras 3 losses, each called as ``loss(y, output)`` and returning a scalar in the model dtype.

``output`` is the network's (N, k) output: the logits z for the from-logits losses (cross_entropy,
binary_cross_entropy), the last activation a for mse; ``y`` is (N, k) in the model dtype.

Keras' reduction ``sum_over_batch_size`` averages the per-sample values (each already a mean or sum over the
last axis), which gives exactly the spec's reductions:
- mse: ``MeanSquaredError``, mean over k then over N = (1/(N·k)) Σ (a − y)².
- cross_entropy: ``CategoricalCrossentropy(from_logits=True)`` = ``tf.nn.softmax_cross_entropy_with_logits``
  summed over c, then the mean over N: −(1/N) Σ_n Σ_c y_nc · log_softmax(z)_nc.
- binary_cross_entropy: ``BinaryCrossentropy(from_logits=True)`` = ``tf.nn.sigmoid_cross_entropy_with_logits``
  (max(z,0) − z·y + log(1+e^−|z|)), mean over k then over N = mean over all N·k elements.
Label smoothing stays at its default 0. Every loss gets ``dtype`` explicitly: a Keras loss left at its default
(``keras.config.floatx()``, float32) casts both arguments to float32, silently downcasting a float64 model.
The probability-based forms (which clip to [1e-7, 1 − 1e-7]) are never used.

``loss_reduction`` "sum" is Keras' ``reduction="sum"``, which sums the per-sample values: for cross_entropy that is
the suite's sum over the rows; mse's and binary_cross_entropy's per-sample values are means over the k outputs,
so their sum is multiplied by k to reach the suite's (torch's) sum over all elements. mse's "half_sum" is ½ of
the sum.
"""

from __future__ import annotations

from typing import Callable

import keras


def make_loss(name: str, dtype: str, reduction: str = "mean", row_factor: float = 1.0) -> Callable:
    """``(y, output) -> scalar``: the Keras loss for the spec's loss ``name``, computing in ``dtype``, reduced as
    ``reduction`` says; a summed loss is Keras' sum of per-sample values times ``row_factor``, the spec's
    ``loss_scale(1)`` (see the module docstring)."""
    keras_reduction = "sum_over_batch_size" if reduction == "mean" else "sum"
    if name == "cross_entropy":
        return keras.losses.CategoricalCrossentropy(from_logits=True, reduction=keras_reduction, dtype=dtype)
    if name == "binary_cross_entropy":
        loss = keras.losses.BinaryCrossentropy(from_logits=True, reduction=keras_reduction, dtype=dtype)
    else:
        loss = keras.losses.MeanSquaredError(reduction=keras_reduction, dtype=dtype)
    if reduction == "mean":
        return loss
    return lambda y, output: loss(y, output) * row_factor
