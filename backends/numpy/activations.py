"""Activations with their derivatives, as the dense and conv2d layers apply them.

Every call sees 2-D arrays (rows, units): a conv2d layer passes its (N·H·W, filters) views, so a prelu alpha is
one per filter. ``forward(z, out, buffers)`` writes a = f(z) into ``out``. ``backward(z, a, grad, scratch,
buffers)`` turns ``grad`` from dL/da into dL/dz = dL/da ⊙ f'(z) in place, reusing the cached ``z`` and ``a``;
``scratch`` is a spare buffer of the same shape. ``buffers(shape, dtype, training)`` makes the per-batch buffers an
activation needs (a zero array, a mask); they live in the layer's workspace, not in the activation, so one
activation object serves every batch size and every thread's inference call. Everything runs in preallocated arrays
with ``out=``: the step allocates nothing. Constants are 0-d arrays in the model dtype (:func:`constant`): a float32
net stays float32 under NumPy 2 promotion rules, and a same-dtype operand skips the scalar conversion that a Python
float costs on every call.
"""

from __future__ import annotations

import numpy as np

from backprop.spec import Activated

from .blas import RowSum


def constant(value: float, dtype: np.dtype) -> np.ndarray:
    """``value`` as a 0-d array of ``dtype``."""
    return np.asarray(value, dtype=dtype)


class Elementwise:
    """The default: no per-batch buffers."""

    def buffers(self, shape: tuple[int, int], dtype: np.dtype, training: bool):
        return None


class Linear(Elementwise):
    """a = z;  da/dz = 1   (a layer with a linear activation uses z as its output, so neither call copies)"""

    def forward(self, z, out, buffers):
        if out is not z:
            np.copyto(out, z)

    def backward(self, z, a, grad, scratch, buffers):
        pass


class Sigmoid(Elementwise):
    """a = 1/(1+e^−z) = ½ + ½·tanh(z/2);  da/dz = a(1 − a)

    The tanh form never overflows, so z = ±1000 gives 0 or 1 without a warning.
    """

    def __init__(self, dtype: np.dtype):
        self.half, self.one = constant(0.5, dtype), constant(1.0, dtype)

    def forward(self, z, out, buffers):
        np.multiply(z, self.half, out=out)
        np.tanh(out, out=out)
        out *= self.half
        out += self.half

    def backward(self, z, a, grad, scratch, buffers):
        np.subtract(self.one, a, out=scratch)
        scratch *= a
        grad *= scratch


class Tanh(Elementwise):
    """a = tanh z;  da/dz = 1 − a²"""

    def __init__(self, dtype: np.dtype):
        self.one = constant(1.0, dtype)

    def forward(self, z, out, buffers):
        np.tanh(z, out=out)

    def backward(self, z, a, grad, scratch, buffers):
        np.multiply(a, a, out=scratch)
        np.subtract(self.one, scratch, out=scratch)
        grad *= scratch


class Masked:
    """An activation whose backward multiplies by the boolean mask z > 0, kept in a buffer of the workspace:
    multiplying by it is five times faster than a masked ``np.copyto(..., where=)``."""

    def buffers(self, shape: tuple[int, int], dtype: np.dtype, training: bool):
        return {"mask": np.empty(shape, dtype=bool)} if training else {}

    @staticmethod
    def positive(z: np.ndarray, buffers: dict) -> np.ndarray:
        """The mask z > 0, in the workspace's buffer (training) or a new array (inference)."""
        return np.greater(z, 0.0, out=buffers.get("mask"))


class ReLU(Masked):
    """a = max(z, 0);  da/dz = 1 if z > 0 else 0 (0 at the kink, as in torch and JAX)

    Forward compares with a zero array of z's shape from the workspace: NumPy's ``maximum`` against a 0-d zero
    takes a scalar loop three times slower.
    """

    def buffers(self, shape: tuple[int, int], dtype: np.dtype, training: bool):
        return {**super().buffers(shape, dtype, training), "zeros": np.zeros(shape, dtype=dtype)}

    def forward(self, z, out, buffers):
        np.maximum(z, buffers["zeros"], out=out)

    def backward(self, z, a, grad, scratch, buffers):
        grad *= self.positive(z, buffers)


class LeakyReLU(Masked):
    """a = z if z > 0 else s·z;  da/dz = 1 if z > 0 else s = s + (1 − s)·[z > 0]

    Forward: a = max(z, s·z) for s ≤ 1 and min(z, s·z) for s > 1.
    """

    def __init__(self, negative_slope: float, dtype: np.dtype):
        self.slope, self.step = constant(negative_slope, dtype), constant(1.0 - negative_slope, dtype)
        self.select = np.maximum if negative_slope <= 1.0 else np.minimum

    def forward(self, z, out, buffers):
        np.multiply(z, self.slope, out=out)
        self.select(z, out, out=out)

    def backward(self, z, a, grad, scratch, buffers):
        np.multiply(self.positive(z, buffers), self.step, out=scratch)
        scratch += self.slope
        grad *= scratch


class PReLU(Masked):
    """a = z if z > 0 else α_j·z, with one learnable α per unit (column) j.

    da/dz = 1 if z > 0 else α_j = α_j + (1 − α_j)·[z > 0];  dL/dα_j = Σ_rows min(z, 0)_j · dL/da_j

    ``alpha`` and ``alpha_grad`` are the layer's live parameter and gradient views (units,); the optimizer updates
    ``alpha`` in place, and :meth:`backward` writes dL/dα into ``alpha_grad`` before it turns ``grad`` into dL/dz.
    """

    def __init__(self, alpha: np.ndarray, alpha_grad: np.ndarray):
        self.alpha, self.alpha_grad = alpha, alpha_grad
        self.one = constant(1.0, alpha.dtype)

    def forward(self, z, out, buffers):
        np.multiply(z, self.alpha, out=out)
        np.copyto(out, z, where=self.positive(z, buffers))

    def backward(self, z, a, grad, scratch, buffers):
        np.minimum(z, 0.0, out=scratch)
        scratch *= grad
        np.sum(scratch, axis=0, out=self.alpha_grad)
        np.multiply(self.positive(z, buffers), self.one - self.alpha, out=scratch)
        scratch += self.alpha
        grad *= scratch


class Softmax(Elementwise):
    """a_c = e^{z_c − m} / s with m = max_c z_c and s = Σ_c e^{z_c − m};  grad_z = a ⊙ (grad_a − Σ_c grad_a_c·a_c)

    Softmax is the output of a cross_entropy network, whose loss supplies the fused gradient (a − y)/N instead (see
    :mod:`.losses`); :meth:`forward` serves ``predict``.
    """

    def __init__(self, row_sum: RowSum):
        self.row_sum = row_sum

    def forward(self, z, out, buffers):
        softmax_parts(z, out, self.row_sum)

    def backward(self, z, a, grad, scratch, buffers):
        np.multiply(grad, a, out=scratch)
        grad -= self.row_sum(scratch)
        grad *= a


# A batch-wide shift m = max z is exact for every row whose own max is within −log(SHARED_SHIFT_MIN_SUM) ≈ 46 of
# it: that row's terms e^{z − m} near its max stay normal floats in float32, and its row sum s_n ≥ this bound.
SHARED_SHIFT_MIN_SUM = 1e-20


def softmax_parts(z: np.ndarray, out: np.ndarray, row_sum: RowSum) -> tuple[np.ndarray, np.ndarray]:
    """Write softmax(z) into ``out``; return the shift m (a scalar, or the row maxima (N, 1)) and the row sums
    s (N, 1) of e^{z − m}, so that log Σ_c e^{z_nc} = m_n + log s_n.

    Softmax is shift-invariant, so any m that neither overflows nor underflows a row gives the same result. The
    batch-wide max is one contiguous reduction; a row max over a short last axis loops row by row (7 µs for
    128 × 10, the cost of the rest of the softmax). Rows far below the batch max (s_n < SHARED_SHIFT_MIN_SUM) are
    redone with their own maxima.
    """
    m = z.max()
    s = _shifted_exp(z, m, out, row_sum)
    if s.min() < SHARED_SHIFT_MIN_SUM:
        m = z.max(axis=1, keepdims=True)
        s = _shifted_exp(z, m, out, row_sum)
    out /= s
    return m, s


def _shifted_exp(z: np.ndarray, m, out: np.ndarray, row_sum: RowSum) -> np.ndarray:
    """out ← e^{z − m} (N, C); return its row sums (N, 1)."""
    np.subtract(z, m, out=out)
    np.exp(out, out=out)
    return row_sum(out)


def make_activation(layer: Activated, layer_params: dict[str, np.ndarray], layer_grads: dict[str, np.ndarray],
                    dtype: np.dtype, row_sum: RowSum):
    """The activation object for one layer spec; prelu binds the layer's ``alpha`` views, softmax the row sum."""
    name = layer.activation
    if name == "leaky_relu":
        return LeakyReLU(layer.negative_slope, dtype)
    if name == "prelu":
        return PReLU(layer_params["alpha"], layer_grads["alpha"])
    if name == "softmax":
        return Softmax(row_sum)
    if name == "linear":
        return Linear()
    if name == "relu":
        return ReLU()
    return {"sigmoid": Sigmoid, "tanh": Tanh}[name](dtype)
