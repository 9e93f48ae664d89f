"""Losses computed from the last layer's logits ``z`` (N, k), with their gradient.

Sums go through the model's BLAS: softmax row sums through :class:`.activations.RowSum`, and a loss total of a
product, Σ x·y, through the model's ``dot`` (a BLAS dot product fuses the multiply with the sum and costs half a
tiny ``ndarray.sum``).

``value_and_grad(z, a, y, grad, scratch)`` returns the loss as a float, reduced as the spec says (c·L_mean with
c = ``spec.loss_scale(N)``: 1 for the mean, the number of terms for a sum), and writes its gradient into
``grad`` (N, k); ``y`` holds the (N, k) targets in the model dtype and ``scratch`` is a spare (N, k) buffer.
A loss with ``fused = True`` also writes the output activation ``a`` = softmax(z) or sigmoid(z) itself and
returns dL/dz directly; otherwise ``a`` was already computed, the gradient written is dL/da, and the model applies
the output activation's derivative.
"""

from __future__ import annotations

import numpy as np

from .activations import constant, softmax_parts
from .blas import RowSum


class BatchConstants:
    """Per-batch-shape constants of a loss, remade only when the shape of z changes: the reduction's ``factor``
    c = ``loss_scale(N)``, the gradient's ``scale`` = c/``count(z)``, ``zero`` and ``one`` as 0-d arrays of z's
    dtype, and ``ones`` shaped like z. A same-dtype 0-d operand spares NumPy the conversion of a Python float on
    every call."""

    def __init__(self, count, loss_scale):
        self.count, self.loss_scale, self.shape = count, loss_scale, None

    def update(self, z: np.ndarray) -> None:
        if z.shape != self.shape:
            self.shape, self.factor = z.shape, self.loss_scale(z.shape[0])
            self.scale, self.zero = constant(self.factor / self.count(z), z.dtype), constant(0.0, z.dtype)
            self.one, self.ones = constant(1.0, z.dtype), np.ones_like(z)


class MeanSquaredError:
    """L = (1/(N·k)) Σ (a − y)²;  dL/da = 2(a − y)/(N·k)"""

    fused = False

    def __init__(self, dot, loss_scale):
        self.dot = dot
        self.batch = BatchConstants(lambda z: z.size / 2.0, loss_scale)

    def value_and_grad(self, z, a, y, grad, scratch):
        self.batch.update(z)
        np.subtract(a, y, out=grad)
        loss = self.dot(grad, grad) / grad.size
        grad *= self.batch.scale
        return loss * self.batch.factor


class CrossEntropy:
    """L = (1/N) Σ_n Σ_c y_nc (lse_n − z_nc);  dL/dz = (softmax(z) − y)/N   (a = softmax(z), lse_n = log Σ_c e^{z_nc})

    Each row is shifted by its target logit t_n = Σ_c y_nc z_nc (for class labels, the true class's logit). With
    s_n = Σ_c e^{z_nc − t_n} and σ_n = Σ_c y_nc, the row's loss is Σ_c y_nc (lse_n − z_nc) = σ_n·log s_n +
    (σ_n − 1)·t_n, which is log s_n for class labels and one-hot rows (σ_n = 1). A confident correct row has
    s_n = 1 + (small): its loss is computed without subtracting large numbers, as accurately as the frameworks'
    max-shifted log-softmax, at every magnitude. The shifted exponentials are softmax's numerators too.

    When some logit exceeds its row's target by more than :data:`SHIFT_LIMIT` (a loss above ~80, and an
    exponential that would overflow), the batch uses the max shift of :func:`.activations.softmax_parts` and
    the loss Σ y (m + log s − z), accurate for such large losses.
    """

    fused = True

    def __init__(self, row_sum: RowSum, dot, loss_scale):
        self.row_sum, self.dot = row_sum, dot
        self.batch = BatchConstants(lambda z: z.shape[0], loss_scale)

    def value_and_grad(self, z, a, y, grad, scratch):
        self.batch.update(z)
        np.multiply(z, y, out=scratch)
        target = self.row_sum(scratch)
        np.subtract(z, target, out=a)
        if a.max() <= SHIFT_LIMIT:
            np.exp(a, out=a)
            sums = self.row_sum(a)
            weights = self.row_sum(y)
            loss = self.dot(np.log(sums), weights)
            weights -= self.batch.one
            loss = (loss + self.dot(weights, target)) / z.shape[0]
            a /= sums
        else:
            loss = self._max_shifted(z, a, y, scratch)
        np.subtract(a, y, out=grad)
        grad *= self.batch.scale
        return loss * self.batch.factor

    def _max_shifted(self, z, a, y, scratch) -> float:
        """softmax(z) into ``a`` with a max shift, and the mean of Σ_c y_nc (m + log s_n − z_nc)."""
        m, s = softmax_parts(z, a, self.row_sum)
        np.log(s, out=s)
        s += m
        np.subtract(z, s, out=scratch)
        return -self.dot(scratch, y) / z.shape[0]


# The largest z_nc − t_n that the target-shifted cross-entropy exponentiates (e^80 ≈ 5.5e34: a row of up to
# ~6 000 classes sums below float32's maximum).
SHIFT_LIMIT = 80.0


class BinaryCrossEntropy:
    """L = (1/(N·k)) Σ y·softplus(−z) + (1 − y)·softplus(z);  dL/dz = (sigmoid(z) − y)/(N·k)   (a = sigmoid(z))

    softplus(z) = log(1 + e^z), evaluated stably by ``np.logaddexp(0, z)``. Both terms are ≥ 0, so the total has
    no cancellation: a confident correct prediction (z ≫ 0 with y = 1, or z ≪ 0 with y = 0) contributes its own
    small softplus(−|z|) at full relative precision, as the frameworks' ``max(z, 0) − z·y + log1p(e^−|z|)``
    does. (The form softplus(z) − z·y subtracts two numbers near |z| there.) sigmoid(z) = e^{−softplus(−z)}.
    """

    fused = True

    def __init__(self, dot, loss_scale):
        self.dot = dot
        self.batch = BatchConstants(lambda z: z.size, loss_scale)

    def value_and_grad(self, z, a, y, grad, scratch):
        batch = self.batch
        batch.update(z)
        np.negative(z, out=scratch)
        np.logaddexp(batch.zero, scratch, out=scratch)
        np.negative(scratch, out=a)
        np.exp(a, out=a)
        loss = self.dot(scratch, y)
        np.logaddexp(batch.zero, z, out=grad)
        np.subtract(batch.ones, y, out=scratch)
        loss = (loss + self.dot(grad, scratch)) / z.size
        np.subtract(a, y, out=grad)
        grad *= batch.scale
        return loss * batch.factor


def make_loss(name: str, row_sum: RowSum, dot, loss_scale):
    """The loss object for the spec's loss name, bound to the model's row sum, ``dot(x, y) -> float`` and the
    reduction's ``loss_scale(N)`` (:meth:`~backprop.spec.NetworkSpec.loss_scale`)."""
    if name == "cross_entropy":
        return CrossEntropy(row_sum, dot, loss_scale)
    if name == "mse":
        return MeanSquaredError(dot, loss_scale)
    return BinaryCrossEntropy(dot, loss_scale)
