"""The spec's optimizer formulas (DESIGN.md sections 2 and 7), updating the model's flat parameter array in place.

``step(grads)`` takes the flat gradient array (same layout as the trainable parameters) and may overwrite it: it is
recomputed by the next backward pass. Every optimizer counts its applied updates in ``t``; step t (from 0) uses the
learning rate lr_t = ``config.lr_at(t)`` of the spec's schedule. ``weight_decay`` (all but adam and adamw) is
torch's coupled form, g ← g + wd·p before the update; adamw decays decoupled, p ← p·(1 − lr_t·wd), before its Adam
step. ``state()`` returns copies of the slots and the step count, and ``load_state(state)`` puts them back (the
model's snapshots for copies, pickling and divergence).

Each update is a fixed handful of whole-buffer NumPy calls with ``out=``, so its cost does not grow with the
number of layers and it allocates nothing. Hyperparameters are 0-d arrays of the parameters' dtype
(:func:`.activations.constant`) and slots are allocated in that dtype, so nothing is promoted to float64.
"""

from __future__ import annotations

import math

import numpy as np

from backprop.spec import OptimizerSpec

from .activations import constant


class Optimizer:
    """What every optimizer shares: the step count, the scheduled learning rate, coupled weight decay, slots."""

    SLOTS: tuple[str, ...] = ()
    COUPLED_DECAY = True

    def __init__(self, params: np.ndarray, config: OptimizerSpec):
        self.params, self.config, self.t = params, config, 0
        dtype = params.dtype
        self.lr = float(config.lr)
        self.lr_now = constant(self.lr, dtype)
        self.decay = constant(config.weight_decay, dtype) if config.weight_decay and self.COUPLED_DECAY else None
        self.scratch = np.zeros_like(params)

    def begin(self) -> float:
        """Set this step's learning rate lr_t (0-d ``lr_now`` and the returned float)."""
        self.lr = self.config.lr_at(self.t)
        self.lr_now[...] = self.lr
        return self.lr

    def decayed(self, params: np.ndarray, grads: np.ndarray, scratch: np.ndarray) -> None:
        """g ← g + wd·p (coupled weight decay), when there is a decay."""
        if self.decay is not None:
            np.multiply(params, self.decay, out=scratch)
            grads += scratch

    def step(self, grads: np.ndarray) -> None:
        self.begin()
        self.decayed(self.params, grads, self.scratch)
        self.update(grads)
        self.t += 1

    def update(self, grads: np.ndarray) -> None:
        raise NotImplementedError

    def state(self) -> dict:
        return {"t": self.t, **{name: getattr(self, name).copy() for name in self.SLOTS}}

    def suite_slots(self) -> dict[str, np.ndarray]:
        """The slots in the suite's form (:mod:`backprop.optimizer_state`), as flat copies."""
        return {name: getattr(self, name).copy() for name in self.SLOTS}

    def load_suite_slots(self, slots: dict[str, np.ndarray], step: int) -> None:
        self.t = step
        for name in self.SLOTS:
            getattr(self, name)[...] = slots[name]

    def load_state(self, state: dict) -> None:
        self.t = int(state["t"])
        for name in self.SLOTS:
            getattr(self, name)[...] = state[name]


class SGD(Optimizer):
    """p ← p − lr·g"""

    def update(self, grads: np.ndarray) -> None:
        grads *= self.lr_now
        self.params -= grads

    def segment(self, params: np.ndarray, grads: np.ndarray) -> None:
        """p ← p − lr_t·(g + wd·p) on one segment of the parameters, within a step begun with :meth:`begin`
        (a model with fused-sgd layers updates segment by segment)."""
        self.decayed(params, grads, self.scratch[:params.size].reshape(params.shape))
        grads *= self.lr_now
        params -= grads


class Momentum(Optimizer):
    """v ← μ·v + g;  p ← p − lr·v   (nesterov: p ← p − lr·(g + μ·v))"""

    SLOTS = ("velocity",)

    def __init__(self, params: np.ndarray, config: OptimizerSpec):
        super().__init__(params, config)
        self.nesterov, self.mu = config.nesterov, constant(config.momentum, params.dtype)
        self.velocity = np.zeros_like(params)

    def update(self, grads: np.ndarray) -> None:
        self.velocity *= self.mu
        self.velocity += grads
        if self.nesterov:
            np.multiply(self.velocity, self.mu, out=self.scratch)
            grads += self.scratch
            grads *= self.lr_now
        else:
            np.multiply(self.velocity, self.lr_now, out=grads)
        self.params -= grads


class Adam(Optimizer):
    """m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  p ← p − lr·m̂/(√v̂ + ε),  m̂ = m/(1−β1^t), v̂ = v/(1−β2^t)

    Stored as the rescaled moments m' = m/(1−β1) and v' = v/(1−β2), which saves three passes over the buffers:
        m' ← β1·m' + g;   v' ← β2·v' + g²
        p ← p − [lr·(1−β1)/((1−β1^t)·k)] · m' / (√v' + ε/k),   k = √((1−β2)/(1−β2^t))
    which is the formula above exactly, since m̂ = (1−β1)·m'/(1−β1^t) and √v̂ = k·√v'. The two bracketed
    per-step factors are written into 0-d arrays of the parameters' dtype.
    """

    SLOTS = ("m", "v")
    COUPLED_DECAY = False

    def suite_slots(self) -> dict[str, np.ndarray]:
        """The biased moments m = (1 − β1)·m' and v = (1 − β2)·v' of the rescaled ones kept here."""
        return {"m": (1.0 - self.beta1) * self.m, "v": (1.0 - self.beta2) * self.v}

    def load_suite_slots(self, slots: dict[str, np.ndarray], step: int) -> None:
        self.t = step
        np.divide(slots["m"], 1.0 - self.beta1, out=self.m)
        np.divide(slots["v"], 1.0 - self.beta2, out=self.v)

    def __init__(self, params: np.ndarray, config: OptimizerSpec):
        super().__init__(params, config)
        self.beta1, self.beta2, self.eps = float(config.beta1), float(config.beta2), float(config.eps)
        dtype = params.dtype
        self.beta1_constant, self.beta2_constant = constant(self.beta1, dtype), constant(self.beta2, dtype)
        self.step_size, self.eps_over_k = constant(0.0, dtype), constant(0.0, dtype)
        self.m, self.v = np.zeros_like(params), np.zeros_like(params)

    def update(self, grads: np.ndarray) -> None:
        t = self.t + 1
        k = math.sqrt((1.0 - self.beta2) / (1.0 - self.beta2 ** t))
        self.eps_over_k[...] = self.eps / k
        self.step_size[...] = self.lr * (1.0 - self.beta1) / ((1.0 - self.beta1 ** t) * k)
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


class AdamW(Adam):
    """p ← p·(1 − lr·wd), then the Adam step (decoupled weight decay, as torch and optax write it)."""

    def __init__(self, params: np.ndarray, config: OptimizerSpec):
        super().__init__(params, config)
        self.weight_decay, self.shrink = float(config.weight_decay), constant(1.0, params.dtype)

    def update(self, grads: np.ndarray) -> None:
        self.shrink[...] = 1.0 - self.lr * self.weight_decay
        self.params *= self.shrink
        super().update(grads)


class RMSprop(Optimizer):
    """v ← ρ·v + (1−ρ)·g²;  p ← p − lr·g/(√v + ε)   (ε outside the root, as torch writes it)

    centered: ḡ ← ρ·ḡ + (1−ρ)·g and the denominator is √(v − ḡ²) + ε; with momentum μ > 0:
    buf ← μ·buf + g/denominator and p ← p − lr·buf.
    """

    def __init__(self, params: np.ndarray, config: OptimizerSpec):
        super().__init__(params, config)
        dtype = params.dtype
        self.rho, self.one_minus_rho = constant(config.rho, dtype), constant(1.0 - config.rho, dtype)
        self.eps, self.mu = constant(config.eps, dtype), constant(config.momentum, dtype)
        self.centered, self.with_momentum = config.centered, config.momentum > 0
        self.square_avg = np.zeros_like(params)
        self.SLOTS = ("square_avg", *(("grad_avg",) if self.centered else ()),
                      *(("momentum_buffer",) if self.with_momentum else ()))
        if self.centered:
            self.grad_avg = np.zeros_like(params)
        if self.with_momentum:
            self.momentum_buffer = np.zeros_like(params)
        self.denominator = np.zeros_like(params)

    def update(self, grads: np.ndarray) -> None:
        scratch, denominator = self.scratch, self.denominator
        self.square_avg *= self.rho
        np.multiply(grads, grads, out=scratch)
        scratch *= self.one_minus_rho
        self.square_avg += scratch
        if self.centered:
            self.grad_avg *= self.rho
            np.multiply(grads, self.one_minus_rho, out=scratch)
            self.grad_avg += scratch
            np.multiply(self.grad_avg, self.grad_avg, out=scratch)
            np.subtract(self.square_avg, scratch, out=denominator)
            np.sqrt(denominator, out=denominator)
        else:
            np.sqrt(self.square_avg, out=denominator)
        denominator += self.eps
        np.divide(grads, denominator, out=scratch)
        if self.with_momentum:
            self.momentum_buffer *= self.mu
            self.momentum_buffer += scratch
            np.multiply(self.momentum_buffer, self.lr_now, out=scratch)
        else:
            scratch *= self.lr_now
        self.params -= scratch


class Adagrad(Optimizer):
    """s ← s + g²;  p ← p − lr·g/(√s + ε)   (s starts at ``initial_accumulator``; ε outside the root)"""

    SLOTS = ("sum",)

    def __init__(self, params: np.ndarray, config: OptimizerSpec):
        super().__init__(params, config)
        self.sum = np.full_like(params, config.initial_accumulator)
        self.eps = constant(config.eps, params.dtype)

    def update(self, grads: np.ndarray) -> None:
        scratch = self.scratch
        np.multiply(grads, grads, out=scratch)
        self.sum += scratch
        np.sqrt(self.sum, out=scratch)
        scratch += self.eps
        np.divide(grads, scratch, out=scratch)
        scratch *= self.lr_now
        self.params -= scratch


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop,
              "adagrad": Adagrad}


def make_optimizer(params: np.ndarray, config: OptimizerSpec):
    """The optimizer for ``config``; ``native`` is the same formula here, since NumPy is the reference."""
    return OPTIMIZERS[config.name](params, config)
