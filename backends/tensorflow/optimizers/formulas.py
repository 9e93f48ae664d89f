"""The spec's optimizers (DESIGN.md sections 2 and 7) written as TensorFlow variable updates.

Keras' optimizers do not run these formulas (spec, torch's form; then Keras'):

- momentum: v ← μv + g; p ← p − lr·v. Keras: v ← μv − lr·g; p ← p + v, equal only at constant lr.
- adam: p ← p − lr·m̂/(√v̂ + ε), ε = 1e-8. Keras: ε-hat, p ← p − lr·√(1−β2^t)/(1−β1^t)·m/(√v + ε), ε = 1e-7.
- rmsprop: p ← p − lr·g/(√v + ε), ε outside the root; with momentum buf ← μ·buf + g/(√v + ε), p ← p − lr·buf.
  Keras: g/√(v + ε), ε inside the root (1e-7), and lr inside the momentum buffer.
- adagrad: s starts at ``initial_accumulator`` (default 0); p ← p − lr·g/(√s + ε). Keras: s starts at 0.1, ε inside
  the root.
- adamw: p ← p·(1 − lr·wd), then the Adam step above. Keras: the same decay, then Adam's ε-hat step.
- weight_decay on sgd, momentum, rmsprop and adagrad is coupled, g ← g + wd·p. Keras' is decoupled, p ← p − lr·wd·p.

Every Keras optimizer also keeps lr in a float32 variable, so a float64 model would step with lr rounded to float32
(~1e-8 relative, enough to break the float64 trajectory check). So each formula is written here with TF ops on the
``tf.Variable`` parameters (the ``.value`` of each Keras variable). Slots are ``tf.Variable`` in the parameter's
dtype; hyperparameters are Python floats, which TF converts to each tensor's dtype exactly, so a float32 model stays
float32 and a float64 one uses exact float64 constants (``tf.cast`` of a Python float would go through float32).

Every optimizer counts its applied updates in ``iterations`` (int64). Update t + 1 (t = ``iterations`` before it)
uses lr_t = lr·factor(t) from the spec's schedule (:mod:`.schedules`, computed in float64) and, for adam, the bias
corrections of step t + 1 in float64; each is cast to the model dtype where it meets the tensors, as NumPy casts
its Python floats. ``apply(grads)`` takes gradients in the order of the variables given at construction and only
emits TF ops, so it runs unchanged eagerly, in a ``tf.function`` and under XLA. ``slots`` holds each slot's
variables (one per parameter) under the suite's slot names (velocity; m, v; square_avg, grad_avg,
momentum_buffer; sum), and ``state_variables`` lists them and the step count, for the model's snapshots.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from backprop.spec import OptimizerSpec

from .schedules import keras_schedule


def _slots(variables: list[tf.Variable], value: float = 0.0) -> list[tf.Variable]:
    """One non-trainable ``tf.Variable`` per parameter, filled with ``value`` in the parameter's dtype."""
    return [tf.Variable(tf.fill(v.shape, tf.constant(value, v.dtype)), trainable=False) for v in variables]


def _in(dtype: tf.DType, value: Any) -> Any:
    """A float64 scalar in the model dtype: a Python float as it is (TF converts it exactly), a tensor cast."""
    return value if isinstance(value, float) else tf.cast(value, dtype)


class Optimizer:
    """What every formula shares: the applied-update count, the scheduled lr_t and coupled weight decay.

    ``update(grads, lr, t)`` is each optimizer's own step, given gradients with the decay already added, lr_t
    (a Python float without a schedule, else a float64 tensor) and t, the updates applied before this one.
    """

    COUPLED_DECAY = True

    def __init__(self, variables: list[tf.Variable], config: OptimizerSpec):
        self.variables, self.dtype, self.lr = variables, variables[0].dtype, float(config.lr)
        self.schedule = None if config.schedule is None else keras_schedule(config.schedule, config.lr)
        self.decay = float(config.weight_decay) if self.COUPLED_DECAY else 0.0
        self.iterations = tf.Variable(tf.constant(0, tf.int64), trainable=False)
        self.slots: dict[str, list[tf.Variable]] = {}

    @property
    def state_variables(self) -> list[tf.Variable]:
        """Every slot variable (by slot name, then parameter), then the step count."""
        return [*(variable for slot in self.slots.values() for variable in slot), self.iterations]

    def apply(self, grads: list[tf.Tensor]) -> None:
        t = self.iterations.read_value()
        lr = self.lr if self.schedule is None else self.schedule(t)
        if self.decay:
            grads = [g + self.decay * p for p, g in zip(self.variables, grads)]
        self.update(grads, lr, t)
        self.iterations.assign_add(1)

    def update(self, grads: list[tf.Tensor], lr: Any, t: tf.Tensor) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """p ← p − lr·g"""

    def update(self, grads: list[tf.Tensor], lr: Any, t: tf.Tensor) -> None:
        lr = _in(self.dtype, lr)
        for p, g in zip(self.variables, grads):
            p.assign_sub(lr * g)


class Momentum(Optimizer):
    """v ← μ·v + g;  p ← p − lr·v   (nesterov: p ← p − lr·(g + μ·v))"""

    def __init__(self, variables: list[tf.Variable], config: OptimizerSpec):
        super().__init__(variables, config)
        self.mu, self.nesterov = float(config.momentum), config.nesterov
        self.velocity = _slots(variables)
        self.slots = {"velocity": self.velocity}

    def update(self, grads: list[tf.Tensor], lr: Any, t: tf.Tensor) -> None:
        lr = _in(self.dtype, lr)
        for p, g, v in zip(self.variables, grads, self.velocity):
            velocity = self.mu * v + g
            v.assign(velocity)
            p.assign_sub(lr * (g + self.mu * velocity) if self.nesterov else lr * velocity)


class Adam(Optimizer):
    """m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  p ← p − lr·m̂/(√v̂ + ε)

    with m̂ = m/(1−β1^t), v̂ = v/(1−β2^t) at step t = 1, 2, …, computed as
    p ← p − (lr/(1−β1^t))·m / (√v/√(1−β2^t) + ε), both factors in float64 then cast to the model dtype.
    """

    COUPLED_DECAY = False

    def __init__(self, variables: list[tf.Variable], config: OptimizerSpec):
        super().__init__(variables, config)
        self.beta1, self.beta2, self.eps = float(config.beta1), float(config.beta2), float(config.eps)
        self.m, self.v = _slots(variables), _slots(variables)
        self.slots = {"m": self.m, "v": self.v}

    def shrink(self, lr: Any) -> Any:
        """The factor the parameters are multiplied by before the step (none for adam)."""
        return None

    def update(self, grads: list[tf.Tensor], lr: Any, t: tf.Tensor) -> None:
        step = tf.cast(t + 1, tf.float64)
        step_size = tf.cast(lr / (1.0 - self.beta1 ** step), self.dtype)
        root_correction = tf.cast(tf.sqrt(1.0 - self.beta2 ** step), self.dtype)
        shrink = self.shrink(lr)
        for p, g, m, v in zip(self.variables, grads, self.m, self.v):
            first = self.beta1 * m + (1.0 - self.beta1) * g
            second = self.beta2 * v + (1.0 - self.beta2) * (g * g)
            m.assign(first)
            v.assign(second)
            delta = step_size * (first / (tf.sqrt(second) / root_correction + self.eps))
            if shrink is None:
                p.assign_sub(delta)
            else:
                p.assign(p * shrink - delta)


class AdamW(Adam):
    """p ← p·(1 − lr·wd), then the Adam step (decoupled weight decay, torch's and optax's form; lr·wd in float64)."""

    def __init__(self, variables: list[tf.Variable], config: OptimizerSpec):
        super().__init__(variables, config)
        self.weight_decay = float(config.weight_decay)

    def shrink(self, lr: Any) -> Any:
        return _in(self.dtype, 1.0 - lr * self.weight_decay)


class RMSprop(Optimizer):
    """v ← ρ·v + (1−ρ)·g²;  p ← p − lr·g/(√v + ε)   (ε outside the root, torch's form)

    centered: ḡ ← ρ·ḡ + (1−ρ)·g and the denominator is √(v − ḡ²) + ε; with momentum μ > 0:
    buf ← μ·buf + g/denominator and p ← p − lr·buf.
    """

    def __init__(self, variables: list[tf.Variable], config: OptimizerSpec):
        super().__init__(variables, config)
        self.rho, self.eps, self.mu = float(config.rho), float(config.eps), float(config.momentum)
        self.square_avg = _slots(variables)
        self.grad_avg = _slots(variables) if config.centered else None
        self.momentum_buffer = _slots(variables) if self.mu > 0 else None
        self.slots = {"square_avg": self.square_avg, **({"grad_avg": self.grad_avg} if config.centered else {}),
                      **({"momentum_buffer": self.momentum_buffer} if self.mu > 0 else {})}

    def update(self, grads: list[tf.Tensor], lr: Any, t: tf.Tensor) -> None:
        lr = _in(self.dtype, lr)
        for index, (p, g, s) in enumerate(zip(self.variables, grads, self.square_avg)):
            square_avg = self.rho * s + (g * g) * (1.0 - self.rho)
            s.assign(square_avg)
            if self.grad_avg is None:
                denominator = tf.sqrt(square_avg) + self.eps
            else:
                grad_avg = self.rho * self.grad_avg[index] + g * (1.0 - self.rho)
                self.grad_avg[index].assign(grad_avg)
                denominator = tf.sqrt(square_avg - grad_avg * grad_avg) + self.eps
            scaled = g / denominator
            if self.momentum_buffer is not None:
                scaled = self.mu * self.momentum_buffer[index] + scaled
                self.momentum_buffer[index].assign(scaled)
            p.assign_sub(scaled * lr)


class Adagrad(Optimizer):
    """s ← s + g²;  p ← p − lr·g/(√s + ε)   (s starts at ``initial_accumulator``; ε outside the root)"""

    def __init__(self, variables: list[tf.Variable], config: OptimizerSpec):
        super().__init__(variables, config)
        self.eps = float(config.eps)
        self.sum = _slots(variables, float(config.initial_accumulator))
        self.slots = {"sum": self.sum}

    def update(self, grads: list[tf.Tensor], lr: Any, t: tf.Tensor) -> None:
        lr = _in(self.dtype, lr)
        for p, g, s in zip(self.variables, grads, self.sum):
            total = s + g * g
            s.assign(total)
            p.assign_sub(g / (tf.sqrt(total) + self.eps) * lr)


FORMULAS = {"sgd": SGD, "momentum": Momentum, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}
