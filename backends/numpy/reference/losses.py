"""Each loss: its value and dL/d(output), from the logits z where the output activation is folded in.

The table gives the mean; a spec's ``loss_reduction`` multiplies value and gradient by c =
``spec.loss_scale(N)`` (the number of terms for "sum", half of it for mse's "half_sum": L = ½·Σ (a − y)², whose
gradient is a − y).

| loss | L | dL/d(output) |
|---|---|---|
| mse | mean over the N·k elements of (a − y)² | 2(a − y)/(N·k), with respect to a |
| cross_entropy | (1/N) Σ_n (lse(z_n) − Σ_c y_nc z_nc), lse = m + log Σ e^{z − m} with m the row max | (softmax(z) − y)/N, with respect to z |
| binary_cross_entropy | mean of max(z, 0) − z·y + log(1 + e^−\\|z\\|) | (sigmoid(z) − y)/(N·k), with respect to z |
"""

from __future__ import annotations

import numpy as np

from .activations import forward


def value_and_gradient(name: str, output: np.ndarray, y: np.ndarray, scale: float = 1.0
                       ) -> tuple[float, np.ndarray]:
    """c·L and c·dL/d(output) with c = ``scale``: ``output`` is a for mse, z (the logits) for the cross-entropies."""
    loss, gradient = _mean_value_and_gradient(name, output, y)
    return loss * scale, gradient * scale


def _mean_value_and_gradient(name: str, output: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    n = output.shape[0]
    if name == "mse":
        difference = output - y
        return float(np.mean(difference ** 2)), 2.0 * difference / difference.size
    if name == "cross_entropy":
        m = output.max(axis=1, keepdims=True)
        log_sum = m + np.log(np.exp(output - m).sum(axis=1, keepdims=True))
        loss = float(np.sum(y * (log_sum - output)) / n)
        return loss, (forward("softmax", output) - y) / n
    loss = float(np.mean(np.maximum(output, 0.0) - output * y + np.log1p(np.exp(-np.abs(output)))))
    return loss, (forward("sigmoid", output) - y) / output.size
