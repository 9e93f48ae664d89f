"""The spec's optimizer formulas (DESIGN.md section 2), updating the model's flat parameter array in place.

``step(grads)`` takes the flat gradient array (same layout as the parameters) and may overwrite it: it is
recomputed by the next backward pass. ``state()`` returns copies of the slots and the step count, and
``load_state(state)`` puts them back (the model's snapshots for copies, pickling and divergence). Each update is a fixed handful of whole-buffer NumPy calls with ``out=``,
so its cost does not grow with the number of layers and it allocates nothing. Hyperparameters are 0-d arrays of the
parameters' dtype (:func:`.activations.constant`) and slots are allocated in that dtype, so nothing is promoted
to float64.
"""

from __future__ import annotations

import math

import numpy as np

from backprop.spec import OptimizerSpec

from .activations import constant


class Slots:
    """The slot arrays named in ``SLOTS`` and the step count ``t``, copied out and back in."""

    SLOTS: tuple[str, ...] = ()
    t = 0

    def state(self) -> dict:
        return {"t": self.t, **{name: getattr(self, name).copy() for name in self.SLOTS}}

    def load_state(self, state: dict) -> None:
        self.t = int(state["t"])
        for name in self.SLOTS:
            getattr(self, name)[...] = state[name]


class SGD(Slots):
    """p ← p − lr·g"""

    def __init__(self, params: np.ndarray, config: OptimizerSpec):
        self.params, self.lr = params, float(config.lr)
        self.lr_constant = constant(self.lr, params.dtype)

    def step(self, grads: np.ndarray) -> None:
        self.step_segment(self.params, grads)

    def step_segment(self, params: np.ndarray, grads: np.ndarray) -> None:
        """p ← p − lr·g on one segment of the parameters (the fused-sgd model updates segment by segment)."""
        grads *= self.lr_constant
        params -= grads


class Momentum(Slots):
    """v ← μ·v + g;  p ← p − lr·v   (nesterov: p ← p − lr·(g + μ·v))"""

    SLOTS = ("velocity",)

    def __init__(self, params: np.ndarray, config: OptimizerSpec):
        self.params, self.nesterov = params, config.nesterov
        self.lr, self.mu = constant(config.lr, params.dtype), constant(config.momentum, params.dtype)
        self.velocity, self.scratch = np.zeros_like(params), np.zeros_like(params)

    def step(self, grads: np.ndarray) -> None:
        self.velocity *= self.mu
        self.velocity += grads
        if self.nesterov:
            np.multiply(self.velocity, self.mu, out=self.scratch)
            grads += self.scratch
            grads *= self.lr
        else:
            np.multiply(self.velocity, self.lr, out=grads)
        self.params -= grads


class Adam(Slots):
    """m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  p ← p − lr·m̂/(√v̂ + ε),  m̂ = m/(1−β1^t), v̂ = v/(1−β2^t)

    Stored as the rescaled moments m' = m/(1−β1) and v' = v/(1−β2), which saves three passes over the buffers:
        m' ← β1·m' + g;   v' ← β2·v' + g²
        p ← p − [lr·(1−β1)/((1−β1^t)·k)] · m' / (√v' + ε/k),   k = √((1−β2)/(1−β2^t))
    which is the formula above exactly, since m̂ = (1−β1)·m'/(1−β1^t) and √v̂ = k·√v'. The two bracketed
    per-step factors are written into 0-d arrays of the parameters' dtype.
    """

    SLOTS = ("m", "v")

    def __init__(self, params: np.ndarray, config: OptimizerSpec):
        self.params = params
        self.lr, self.beta1, self.beta2, self.eps = (float(config.lr), float(config.beta1), float(config.beta2),
                                                     float(config.eps))
        dtype = params.dtype
        self.beta1_constant, self.beta2_constant = constant(self.beta1, dtype), constant(self.beta2, dtype)
        self.step_size, self.eps_over_k = constant(0.0, dtype), constant(0.0, dtype)
        self.m, self.v, self.scratch = np.zeros_like(params), np.zeros_like(params), np.zeros_like(params)
        self.t = 0

    def step(self, grads: np.ndarray) -> None:
        self.t += 1
        k = math.sqrt((1.0 - self.beta2) / (1.0 - self.beta2 ** self.t))
        self.eps_over_k[...] = self.eps / k
        self.step_size[...] = self.lr * (1.0 - self.beta1) / ((1.0 - self.beta1 ** self.t) * k)
        m, v, scratch = self.m, self.v, self.scratch
        m *= self.beta1_constant
        m += grads
        grads *= grads
        v *= self.beta2_constant
        v += grads
        np.sqrt(v, out=scratch)
        scratch += self.eps_over_k
        np.divide(m, scratch, out=scratch)
        scratch *= self.step_size
        self.params -= scratch


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def make_optimizer(params: np.ndarray, config: OptimizerSpec):
    """The optimizer for ``config``; ``native`` is the same formula here, since NumPy is the reference."""
    return OPTIMIZERS[config.name](params, config)
