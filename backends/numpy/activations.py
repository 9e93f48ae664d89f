"""Activations with their derivatives, as used by the chain rule in :mod:`backends.numpy.model`.

``forward(z)`` maps pre-activations ``z`` (N, units) to ``a`` (N, units). ``backward(z, a, grad_a)`` returns
``grad_z = grad_a · da/dz`` (element-wise), reusing the cached ``z`` and ``a``. Every operation keeps the input's
dtype: constants are Python floats, so a float32 net stays float32 under NumPy 2 promotion rules.
"""

from __future__ import annotations

import numpy as np

from backprop.spec import LayerSpec


class Linear:
    """a = z;  da/dz = 1"""

    def forward(self, z):
        return z

    def backward(self, z, a, grad_a):
        return grad_a


class Sigmoid:
    """a = 1/(1+e^−z) = ½(1 + tanh(z/2));  da/dz = a(1 − a)

    The tanh form never overflows, so z = ±1000 gives 0 or 1 without a warning.
    """

    def forward(self, z):
        a = np.tanh(z * 0.5)
        a += 1.0
        a *= 0.5
        return a

    def backward(self, z, a, grad_a):
        return grad_a * a * (1.0 - a)


class Tanh:
    """a = tanh z;  da/dz = 1 − a²"""

    def forward(self, z):
        return np.tanh(z)

    def backward(self, z, a, grad_a):
        return grad_a * (1.0 - a * a)


class ReLU:
    """a = max(z, 0);  da/dz = 1 if z > 0 else 0 (0 at the kink, as in torch and JAX)"""

    def forward(self, z):
        return np.maximum(z, 0.0)

    def backward(self, z, a, grad_a):
        return grad_a * (z > 0)


class LeakyReLU:
    """a = z if z > 0 else s·z;  da/dz = 1 if z > 0 else s"""

    def __init__(self, negative_slope: float):
        self.slope = float(negative_slope)

    def forward(self, z):
        return np.where(z > 0, z, z * self.slope)

    def backward(self, z, a, grad_a):
        return np.where(z > 0, grad_a, grad_a * self.slope)


class PReLU:
    """a = z if z > 0 else α_j·z, with one learnable α per unit j.

    da/dz = 1 if z > 0 else α_j;  dL/dα_j = Σ_n [z_nj ≤ 0] · z_nj · grad_a_nj

    ``alpha`` is the layer's live parameter array (units,), updated in place by the optimizer.
    """

    def __init__(self, alpha: np.ndarray):
        self.alpha = alpha

    def forward(self, z):
        return np.where(z > 0, z, z * self.alpha)

    def backward(self, z, a, grad_a):
        return np.where(z > 0, grad_a, grad_a * self.alpha)

    def alpha_grad(self, z, grad_a):
        return np.where(z > 0, 0.0, z * grad_a).sum(axis=0).astype(z.dtype, copy=False)


class Softmax:
    """a_c = e^{z_c − max z} / Σ_c' e^{z_c' − max z};  grad_z = a ⊙ (grad_a − Σ_c grad_a_c·a_c)

    With cross_entropy the loss supplies the fused gradient (a − y)/N instead (see :mod:`.losses`).
    """

    def forward(self, z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        e /= e.sum(axis=1, keepdims=True)
        return e

    def backward(self, z, a, grad_a):
        return a * (grad_a - (grad_a * a).sum(axis=1, keepdims=True))


def make_activation(layer: LayerSpec, layer_params: dict[str, np.ndarray]):
    """The activation object for one layer spec; prelu binds the layer's ``alpha`` array."""
    name = layer.activation
    if name == "leaky_relu":
        return LeakyReLU(layer.negative_slope)
    if name == "prelu":
        return PReLU(layer_params["alpha"])
    return {"linear": Linear, "sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, "softmax": Softmax}[name]()
