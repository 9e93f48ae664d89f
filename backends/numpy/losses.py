"""Losses computed from the last layer's logits ``z`` (N, k), with their gradient dL/dz.

Each ``value_and_grad(z, a, y)`` returns the mean-reduced loss as a float and a gradient (N, k), where
``a = activation(z)`` is the cached output and ``y`` the (N, k) targets in the model dtype. A loss with
``fused = True`` returns dL/dz directly (softmax/sigmoid folded in); otherwise it returns dL/da and the model
applies the output activation's derivative.
"""

from __future__ import annotations

import numpy as np


class MeanSquaredError:
    """L = (1/(N·k)) Σ (a − y)²;  dL/da = 2(a − y)/(N·k)"""

    fused = False

    def value_and_grad(self, z, a, y):
        diff = a - y
        return float(np.vdot(diff, diff)) / diff.size, diff * (2.0 / diff.size)


class CrossEntropy:
    """L = −(1/N) Σ_n Σ_c y_nc (z_nc − logsumexp(z_n));  dL/dz = (softmax(z) − y)/N   (a = softmax(z))

    logsumexp(z_n) = m_n + log Σ_c e^{z_nc − m_n} with m_n = max_c z_nc, so ±1e4 logits stay finite.
    """

    fused = True

    def value_and_grad(self, z, a, y):
        m = z.max(axis=1, keepdims=True)
        log_softmax = z - (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))
        n = z.shape[0]
        return -float(np.vdot(y, log_softmax)) / n, (a - y) * (1.0 / n)


class BinaryCrossEntropy:
    """L = (1/(N·k)) Σ softplus(z) − z·y;  dL/dz = (sigmoid(z) − y)/(N·k)   (a = sigmoid(z))

    softplus(z) = log(1 + e^z) = max(z, 0) + log(1 + e^−|z|), evaluated stably by ``np.logaddexp(0, z)``.
    """

    fused = True

    def value_and_grad(self, z, a, y):
        elementwise = np.logaddexp(0.0, z)
        elementwise -= z * y
        return float(elementwise.sum()) / z.size, (a - y) * (1.0 / z.size)


LOSSES = {"mse": MeanSquaredError, "cross_entropy": CrossEntropy, "binary_cross_entropy": BinaryCrossEntropy}
