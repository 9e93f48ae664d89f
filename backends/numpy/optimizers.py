"""The spec's optimizer formulas (DESIGN.md section 2), updating the model's flat parameter array in place.

``step(grads)`` takes the flat gradient array (same layout as the parameters) and may overwrite it: it is
recomputed by the next backward pass. Each update is a fixed handful of whole-buffer NumPy calls with ``out=``,
so its cost does not grow with the number of layers and it allocates nothing. Hyperparameters are Python floats
and slots are allocated in the parameters' dtype, so nothing is promoted to float64.
"""

from __future__ import annotations

import math

import numpy as np

from backprop.spec import OptimizerSpec


class SGD:
    """p ← p − lr·g"""

    def __init__(self, params: np.ndarray, config: OptimizerSpec):
        self.params, self.lr = params, float(config.lr)
        self.lr_constant = np.asarray(self.lr, dtype=params.dtype)

    def step(self, grads: np.ndarray) -> None:
        grads *= self.lr_constant
        self.params -= grads


class Momentum:
    """v ← μ·v + g;  p ← p − lr·v   (nesterov: p ← p − lr·(g + μ·v))"""

    def __init__(self, params: np.ndarray, config: OptimizerSpec):
        self.params, self.lr, self.mu, self.nesterov = params, float(config.lr), float(config.momentum), \
            config.nesterov
        self.velocity = np.zeros_like(params)

    def step(self, grads: np.ndarray) -> None:
        self.velocity *= self.mu
        self.velocity += grads
        if self.nesterov:
            grads += self.mu * self.velocity
            grads *= self.lr
        else:
            np.multiply(self.velocity, self.lr, out=grads)
        self.params -= grads


class Adam:
    """m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  p ← p − lr·m̂/(√v̂ + ε)

    with m̂ = m/(1−β1^t), v̂ = v/(1−β2^t), computed as p ← p − (lr/(1−β1^t))·m / (√v/√(1−β2^t) + ε).
    """

    def __init__(self, params: np.ndarray, config: OptimizerSpec):
        self.params = params
        self.lr, self.beta1, self.beta2, self.eps = (float(config.lr), float(config.beta1), float(config.beta2),
                                                     float(config.eps))
        self.m, self.v, self.scratch = np.zeros_like(params), np.zeros_like(params), np.zeros_like(params)
        self.t = 0

    def step(self, grads: np.ndarray) -> None:
        self.t += 1
        m, v, scratch = self.m, self.v, self.scratch
        np.multiply(grads, grads, out=scratch)
        scratch *= 1.0 - self.beta2
        v *= self.beta2
        v += scratch
        grads *= 1.0 - self.beta1
        m *= self.beta1
        m += grads
        np.sqrt(v, out=scratch)
        scratch *= 1.0 / math.sqrt(1.0 - self.beta2 ** self.t)
        scratch += self.eps
        np.divide(m, scratch, out=scratch)
        scratch *= self.lr / (1.0 - self.beta1 ** self.t)
        self.params -= scratch


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def make_optimizer(params: np.ndarray, config: OptimizerSpec):
    """The optimizer for ``config``; ``native`` is the same formula here, since NumPy is the reference."""
    return OPTIMIZERS[config.name](params, config)
