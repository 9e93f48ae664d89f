"""Activations with their derivatives, as used by the chain rule in :mod:`backends.numpy.model`.

``forward(z, out)`` writes a = f(z) into ``out`` (N, units). ``backward(z, a, grad, scratch)`` turns ``grad`` from
dL/da into dL/dz = dL/da ⊙ f'(z) in place, reusing the cached ``z`` and ``a``; ``scratch`` is a spare (N, units)
buffer. Everything runs in preallocated arrays with ``out=``: the step allocates nothing. Constants are 0-d
arrays in the model dtype (:func:`constant`): a float32 net stays float32 under NumPy 2 promotion rules, and a
same-dtype operand skips the scalar conversion that a Python float costs on every call.
"""

from __future__ import annotations

import numpy as np

from backprop.spec import LayerSpec


def constant(value: float, dtype: np.dtype) -> np.ndarray:
    """``value`` as a 0-d array of ``dtype``."""
    return np.asarray(value, dtype=dtype)


class Linear:
    """a = z;  da/dz = 1"""

    def forward(self, z, out):
        np.copyto(out, z)

    def backward(self, z, a, grad, scratch):
        pass


class Sigmoid:
    """a = 1/(1+e^−z) = ½ + ½·tanh(z/2);  da/dz = a(1 − a)

    The tanh form never overflows, so z = ±1000 gives 0 or 1 without a warning.
    """

    def __init__(self, dtype: np.dtype):
        self.half, self.one = constant(0.5, dtype), constant(1.0, dtype)

    def forward(self, z, out):
        np.multiply(z, self.half, out=out)
        np.tanh(out, out=out)
        out *= self.half
        out += self.half

    def backward(self, z, a, grad, scratch):
        np.subtract(self.one, a, out=scratch)
        scratch *= a
        grad *= scratch


class Tanh:
    """a = tanh z;  da/dz = 1 − a²"""

    def __init__(self, dtype: np.dtype):
        self.one = constant(1.0, dtype)

    def forward(self, z, out):
        np.tanh(z, out=out)

    def backward(self, z, a, grad, scratch):
        np.multiply(a, a, out=scratch)
        np.subtract(self.one, scratch, out=scratch)
        grad *= scratch


class ReLU:
    """a = max(z, 0);  da/dz = 1 if z > 0 else 0 (0 at the kink, as in torch and JAX)

    Backward multiplies by the boolean mask z > 0 (:class:`PositiveMask`). Forward compares with a zero array of
    z's shape: NumPy's ``maximum`` against a 0-d zero takes a scalar loop three times slower.
    """

    def __init__(self, dtype: np.dtype):
        self.zeros = np.zeros((0, 0), dtype=dtype)
        self.positive = PositiveMask()

    def forward(self, z, out):
        if self.zeros.shape != z.shape:
            self.zeros = np.zeros_like(z)
        np.maximum(z, self.zeros, out=out)

    def backward(self, z, a, grad, scratch):
        grad *= self.positive(z)


class LeakyReLU:
    """a = z if z > 0 else s·z;  da/dz = 1 if z > 0 else s = s + (1 − s)·[z > 0]

    Forward: a = max(z, s·z) for s ≤ 1 and min(z, s·z) for s > 1.
    """

    def __init__(self, negative_slope: float, dtype: np.dtype):
        self.slope, self.step = constant(negative_slope, dtype), constant(1.0 - negative_slope, dtype)
        self.select = np.maximum if negative_slope <= 1.0 else np.minimum
        self.positive = PositiveMask()

    def forward(self, z, out):
        np.multiply(z, self.slope, out=out)
        self.select(z, out, out=out)

    def backward(self, z, a, grad, scratch):
        np.multiply(self.positive(z), self.step, out=scratch)
        scratch += self.slope
        grad *= scratch


class PReLU:
    """a = z if z > 0 else α_j·z, with one learnable α per unit j.

    da/dz = 1 if z > 0 else α_j = α_j + (1 − α_j)·[z > 0];  dL/dα_j = Σ_n min(z_nj, 0) · dL/da_nj

    ``alpha`` and ``alpha_grad`` are the layer's live parameter and gradient views (units,); the optimizer updates
    ``alpha`` in place, and :meth:`backward` writes dL/dα into ``alpha_grad`` before it turns ``grad`` into dL/dz.
    """

    def __init__(self, alpha: np.ndarray, alpha_grad: np.ndarray):
        self.alpha, self.alpha_grad = alpha, alpha_grad
        self.one = constant(1.0, alpha.dtype)
        self.positive = PositiveMask()

    def forward(self, z, out):
        np.multiply(z, self.alpha, out=out)
        np.copyto(out, z, where=self.positive(z))

    def backward(self, z, a, grad, scratch):
        np.minimum(z, 0.0, out=scratch)
        scratch *= grad
        np.sum(scratch, axis=0, out=self.alpha_grad)
        np.multiply(self.positive(z), self.one - self.alpha, out=scratch)
        scratch += self.alpha
        grad *= scratch


class PositiveMask:
    """``mask(z)`` is the boolean array z > 0, written into a buffer kept between calls (replaced when the batch
    size changes). Multiplying by it is five times faster than a masked ``np.copyto(..., where=)``."""

    def __init__(self):
        self.mask = np.zeros((0, 0), dtype=bool)

    def __call__(self, z: np.ndarray) -> np.ndarray:
        if self.mask.shape != z.shape:
            self.mask = np.empty(z.shape, dtype=bool)
        return np.greater(z, 0.0, out=self.mask)


class Softmax:
    """a_c = e^{z_c − m} / s with m = max_c z_c and s = Σ_c e^{z_c − m};  grad_z = a ⊙ (grad_a − Σ_c grad_a_c·a_c)

    With cross_entropy the loss supplies the fused gradient (a − y)/N instead (see :mod:`.losses`).
    """

    def __init__(self, row_sum: RowSum):
        self.row_sum = row_sum

    def forward(self, z, out):
        softmax_parts(z, out, self.row_sum)

    def backward(self, z, a, grad, scratch):
        np.multiply(grad, a, out=scratch)
        grad -= self.row_sum(scratch)
        grad *= a


class RowSum:
    """``row_sum(a)`` is Σ_c a_nc as a new (N, 1) array, computed as the product a @ 1 with the model's GEMM.

    NumPy's ``a.sum(axis=1)`` over a short last axis loops row by row: for 128 × 10 the product is four times faster.
    """

    def __init__(self, gemm, k: int, dtype: np.dtype):
        self.gemm, self.ones = gemm, np.ones((k, 1), dtype=dtype)

    def __call__(self, a: np.ndarray) -> np.ndarray:
        out = np.empty((a.shape[0], 1), dtype=a.dtype)
        self.gemm(a, self.ones, out)
        return out


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


def make_activation(layer: LayerSpec, layer_params: dict[str, np.ndarray], layer_grads: dict[str, np.ndarray],
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
    return {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU}[name](dtype)
