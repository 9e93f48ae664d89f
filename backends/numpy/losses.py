"""Losses computed from the last layer's logits ``z`` (N, k), with their gradient.

Sums go through the model's BLAS: softmax row sums through :class:`.activations.RowSum`, and a loss total of a
product, Σ x·y, through the model's ``dot`` (a BLAS dot product fuses the multiply with the sum and costs half a
tiny ``ndarray.sum``).

``value_and_grad(z, a, y, grad, scratch)`` returns the mean-reduced loss as a float and writes a gradient into
``grad`` (N, k); ``y`` holds the (N, k) targets in the model dtype and ``scratch`` is a spare (N, k) buffer.
A loss with ``fused = True`` also writes the output activation ``a`` = softmax(z) or sigmoid(z) itself and
returns dL/dz directly; otherwise ``a`` was already computed, the gradient written is dL/da, and the model applies
the output activation's derivative.
"""

from __future__ import annotations

import numpy as np

from .activations import RowSum, constant, softmax_parts


class BatchConstants:
    """Per-batch-shape constants of a loss, remade only when the shape of z changes: ``scale`` = 1/``count(z)``
    as a 0-d array of z's dtype, ``zero`` likewise, and ``ones`` shaped like z. A same-dtype 0-d operand spares
    NumPy the conversion of a Python float on every call."""

    def __init__(self, count):
        self.count, self.shape = count, None

    def update(self, z: np.ndarray) -> None:
        if z.shape != self.shape:
            self.shape = z.shape
            self.scale, self.zero = constant(1.0 / self.count(z), z.dtype), constant(0.0, z.dtype)
            self.ones = np.ones_like(z)


class MeanSquaredError:
    """L = (1/(N·k)) Σ (a − y)²;  dL/da = 2(a − y)/(N·k)"""

    fused = False

    def __init__(self, dot):
        self.dot = dot
        self.batch = BatchConstants(lambda z: z.size / 2.0)

    def value_and_grad(self, z, a, y, grad, scratch):
        self.batch.update(z)
        np.subtract(a, y, out=grad)
        loss = self.dot(grad, grad) / grad.size
        grad *= self.batch.scale
        return loss


class CrossEntropy:
    """L = −(1/N) Σ_n Σ_c y_nc (z_nc − lse_n);  dL/dz = (softmax(z) − y)/N   (a = softmax(z))

    lse_n = m + log Σ_c e^{z_nc − m} with a shift m that keeps every row finite (:func:`.activations.softmax_parts`),
    so ±1e4 logits stay finite.
    """

    fused = True

    def __init__(self, row_sum: RowSum, dot):
        self.row_sum, self.dot = row_sum, dot
        self.batch = BatchConstants(lambda z: z.shape[0])

    def value_and_grad(self, z, a, y, grad, scratch):
        self.batch.update(z)
        m, s = softmax_parts(z, a, self.row_sum)
        np.log(s, out=s)
        s += m
        np.subtract(z, s, out=scratch)
        loss = -self.dot(scratch, y) / z.shape[0]
        np.subtract(a, y, out=grad)
        grad *= self.batch.scale
        return loss


class BinaryCrossEntropy:
    """L = (1/(N·k)) Σ softplus(z) − z·y;  dL/dz = (sigmoid(z) − y)/(N·k)   (a = sigmoid(z))

    softplus(z) = log(1 + e^z) = max(z, 0) + log(1 + e^−|z|), evaluated stably by ``np.logaddexp(0, z)``, and
    sigmoid(z) = e^{z − softplus(z)} reuses it: exact at ±1e4, and accurate to an ulp of z for z ≪ 0.
    The total is two dots, Σ softplus(z)·1 − Σ z·y.
    """

    fused = True

    def __init__(self, dot):
        self.dot = dot
        self.batch = BatchConstants(lambda z: z.size)

    def value_and_grad(self, z, a, y, grad, scratch):
        batch = self.batch
        batch.update(z)
        np.logaddexp(batch.zero, z, out=scratch)
        np.subtract(z, scratch, out=a)
        np.exp(a, out=a)
        loss = (self.dot(scratch, batch.ones) - self.dot(z, y)) / z.size
        np.subtract(a, y, out=grad)
        grad *= batch.scale
        return loss


def make_loss(name: str, row_sum: RowSum, dot):
    """The loss object for the spec's loss name, bound to the model's row sum and ``dot(x, y) -> float``."""
    if name == "cross_entropy":
        return CrossEntropy(row_sum, dot)
    if name == "mse":
        return MeanSquaredError(dot)
    return BinaryCrossEntropy(dot)
