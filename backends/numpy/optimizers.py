"""The spec's optimizer formulas (DESIGN.md section 2), updating NumPy parameter arrays in place.

``step(grads)`` takes gradients in the same order as the ``params`` list given at construction. Hyperparameters
are Python floats and slots are allocated in the parameters' dtype, so nothing is promoted to float64.
"""

from __future__ import annotations

import math

import numpy as np

from backprop.spec import OptimizerSpec


class SGD:
    """p ← p − lr·g"""

    def __init__(self, params: list[np.ndarray], config: OptimizerSpec):
        self.params, self.lr = params, float(config.lr)

    def step(self, grads: list[np.ndarray]) -> None:
        for p, g in zip(self.params, grads):
            p -= self.lr * g


class Momentum:
    """v ← μ·v + g;  p ← p − lr·v   (nesterov: p ← p − lr·(g + μ·v))"""

    def __init__(self, params: list[np.ndarray], config: OptimizerSpec):
        self.params, self.lr, self.mu, self.nesterov = params, float(config.lr), float(config.momentum), \
            config.nesterov
        self.velocity = [np.zeros_like(p) for p in params]

    def step(self, grads: list[np.ndarray]) -> None:
        for p, g, v in zip(self.params, grads, self.velocity):
            v *= self.mu
            v += g
            p -= self.lr * (g + self.mu * v) if self.nesterov else self.lr * v


class Adam:
    """m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  p ← p − lr·m̂/(√v̂ + ε)

    with m̂ = m/(1−β1^t), v̂ = v/(1−β2^t), computed as p ← p − (lr/(1−β1^t))·m / (√v/√(1−β2^t) + ε).
    """

    def __init__(self, params: list[np.ndarray], config: OptimizerSpec):
        self.params = params
        self.lr, self.beta1, self.beta2, self.eps = (float(config.lr), float(config.beta1), float(config.beta2),
                                                     float(config.eps))
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads: list[np.ndarray]) -> None:
        self.t += 1
        step_size = self.lr / (1.0 - self.beta1 ** self.t)
        root_correction = math.sqrt(1.0 - self.beta2 ** self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * (g * g)
            denom = np.sqrt(v)
            denom /= root_correction
            denom += self.eps
            p -= step_size * (m / denom)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def make_optimizer(params: list[np.ndarray], config: OptimizerSpec):
    """The optimizer for ``config``; ``native`` is the same formula here, since NumPy is the reference."""
    return OPTIMIZERS[config.name](params, config)
