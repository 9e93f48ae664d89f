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
"""

from __future__ import annotations

import keras


def make_loss(name: str, dtype: str) -> keras.losses.Loss:
    """The Keras loss object for the spec's loss ``name``, computing in ``dtype``."""
    if name == "cross_entropy":
        return keras.losses.CategoricalCrossentropy(from_logits=True, dtype=dtype)
    if name == "binary_cross_entropy":
        return keras.losses.BinaryCrossentropy(from_logits=True, dtype=dtype)
    return keras.losses.MeanSquaredError(dtype=dtype)
