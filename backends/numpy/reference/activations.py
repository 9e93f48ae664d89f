"""Each activation as a pair: a = f(z), and the derivative da/dz written with the values forward already has.

| activation | a = f(z) | da/dz |
|---|---|---|
| linear | z | 1 |
| sigmoid | 1 / (1 + e^−z) | a·(1 − a) |
| tanh | tanh z | 1 − a² |
| relu | max(z, 0) | 1 if z > 0 else 0 |
| leaky_relu | z if z > 0 else s·z | 1 if z > 0 else s |
| prelu | z if z > 0 else α·z (α learnable, one per unit) | 1 if z > 0 else α;  da/dα = min(z, 0) |
| softmax | e^{z − max z} / Σ e^{z − max z} (per row) | a·(g − Σ g·a), applied to an upstream g |

sigmoid is written ½·(1 + tanh(z/2)), the same function without e^−z overflowing for z ≪ 0.
"""

from __future__ import annotations

import numpy as np


def forward(name: str, z: np.ndarray, slope: float = 0.0, alpha: np.ndarray | None = None) -> np.ndarray:
    """a = f(z)."""
    if name == "linear":
        return z
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if name == "prelu":
        return np.where(z > 0, z, alpha * z)
    shifted = np.exp(z - z.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def backward(name: str, z: np.ndarray, a: np.ndarray, grad: np.ndarray, slope: float = 0.0,
             alpha: np.ndarray | None = None) -> np.ndarray:
    """dL/dz = dL/da ⊙ da/dz (softmax: the Jacobian-vector product a ⊙ (g − Σ g·a))."""
    if name == "linear":
        return grad
    if name == "sigmoid":
        return grad * a * (1.0 - a)
    if name == "tanh":
        return grad * (1.0 - a * a)
    if name == "relu":
        return grad * (z > 0)
    if name == "leaky_relu":
        return grad * np.where(z > 0, 1.0, slope).astype(z.dtype)
    if name == "prelu":
        return grad * np.where(z > 0, 1.0, alpha).astype(z.dtype)
    return a * (grad - (grad * a).sum(axis=1, keepdims=True))


def prelu_alpha_gradient(z: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """dL/dα_j = Σ over every other axis of min(z, 0)·dL/da, per unit (the last axis)."""
    return (np.minimum(z, 0.0) * grad).reshape(-1, z.shape[-1]).sum(axis=0)
