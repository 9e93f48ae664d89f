"""The spec's optimizers written as TensorFlow variable updates, Keras' own for ``native``, and the finite guard.

Keras' optimizers do not run the spec's formulas (DESIGN.md section 2):
- ``keras.optimizers.SGD(momentum=μ)`` writes v ← μv − lr·g; p ← p + v, and keeps lr in a float32 variable, so a
  float64 model steps with lr rounded to float32 (~1e-8 relative, enough to break the float64 trajectory check);
- ``keras.optimizers.Adam`` uses ε-hat, p ← p − lr·√(1−β2^t)/(1−β1^t)·m/(√v + ε), with default ε 1e-7.
So every spec optimizer below is written with TF ops on ``tf.Variable`` parameters (the ``.value`` of each Keras
variable). Slots are ``tf.Variable`` zeros in the parameter's dtype; hyperparameters are Python floats, which TF
converts to each tensor's dtype, so a float32 model stays float32 and a float64 one uses exact float64 constants.
Adam's bias corrections are computed in float64 from a float64 step count and cast to the model dtype, as NumPy
does with Python floats.

``apply(grads)`` takes gradients in the order of the variables given at construction; it only emits TF ops, so it
runs unchanged eagerly or inside a ``tf.function``. ``state_variables`` lists every variable the optimizer keeps
(slots and step count), for the model's snapshots.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from backprop.spec import OptimizerSpec


def _slots(variables: list[tf.Variable]) -> list[tf.Variable]:
    return [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]


class SGD:
    """p ← p − lr·g"""

    state_variables: list[tf.Variable] = []

    def __init__(self, variables: list[tf.Variable], config: OptimizerSpec):
        self.variables, self.lr = variables, float(config.lr)

    def apply(self, grads: list[tf.Tensor]) -> None:
        for p, g in zip(self.variables, grads):
            p.assign_sub(self.lr * g)


class Momentum:
    """v ← μ·v + g;  p ← p − lr·v   (nesterov: p ← p − lr·(g + μ·v))"""

    def __init__(self, variables: list[tf.Variable], config: OptimizerSpec):
        self.variables, self.lr, self.mu, self.nesterov = variables, float(config.lr), float(config.momentum), \
            config.nesterov
        self.velocity = _slots(variables)
        self.state_variables = self.velocity

    def apply(self, grads: list[tf.Tensor]) -> None:
        for p, g, v in zip(self.variables, grads, self.velocity):
            velocity = self.mu * v + g
            v.assign(velocity)
            p.assign_sub(self.lr * (g + self.mu * velocity) if self.nesterov else self.lr * velocity)


class Adam:
    """m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  p ← p − lr·m̂/(√v̂ + ε)

    with m̂ = m/(1−β1^t), v̂ = v/(1−β2^t), computed as p ← p − (lr/(1−β1^t))·m / (√v/√(1−β2^t) + ε).
    """

    def __init__(self, variables: list[tf.Variable], config: OptimizerSpec):
        self.variables = variables
        self.lr, self.beta1, self.beta2, self.eps = (float(config.lr), float(config.beta1), float(config.beta2),
                                                     float(config.eps))
        self.m, self.v = _slots(variables), _slots(variables)
        self.t = tf.Variable(0.0, dtype=tf.float64, trainable=False)
        self.state_variables = [*self.m, *self.v, self.t]

    def apply(self, grads: list[tf.Tensor]) -> None:
        t = self.t.assign_add(1.0)
        dtype = self.variables[0].dtype
        step_size = tf.cast(self.lr / (1.0 - self.beta1 ** t), dtype)
        root_correction = tf.cast(tf.sqrt(1.0 - self.beta2 ** t), dtype)
        for p, g, m, v in zip(self.variables, grads, self.m, self.v):
            first = self.beta1 * m + (1.0 - self.beta1) * g
            second = self.beta2 * v + (1.0 - self.beta2) * (g * g)
            m.assign(first)
            v.assign(second)
            p.assign_sub(step_size * (first / (tf.sqrt(second) / root_correction + self.eps)))


class KerasOptimizer:
    """A Keras optimizer object run on the model's Keras variables (``native``: Keras' own formula and defaults)."""

    def __init__(self, variables: list[keras.Variable], optimizer: keras.optimizers.Optimizer):
        self.variables, self.optimizer = variables, optimizer
        optimizer.build(variables)
        self.state_variables = list(optimizer.variables)

    def apply(self, grads: list[tf.Tensor]) -> None:
        self.optimizer.apply(grads, self.variables)


def native_optimizer(config: OptimizerSpec) -> keras.optimizers.Optimizer:
    """Keras' own optimizer for the name: the spec's lr, momentum, nesterov, β1, β2; ε left at Keras' 1e-7."""
    if config.name == "adam":
        return keras.optimizers.Adam(learning_rate=float(config.lr), beta_1=float(config.beta1),
                                     beta_2=float(config.beta2))
    if config.name == "momentum":
        return keras.optimizers.SGD(learning_rate=float(config.lr), momentum=float(config.momentum),
                                    nesterov=config.nesterov)
    return keras.optimizers.SGD(learning_rate=float(config.lr))


SPEC_OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def make_optimizer(variables: list[keras.Variable], config: OptimizerSpec):
    """Keras' optimizer when ``config.native``, else the spec's formula on the variables' ``tf.Variable`` values."""
    if config.native:
        return KerasOptimizer(variables, native_optimizer(config))
    return SPEC_OPTIMIZERS[config.name]([variable.value for variable in variables], config)


def update_if_finite(optimizer, loss: tf.Tensor, grads: list[tf.Tensor]) -> tf.Tensor:
    """Apply one update only when ``loss`` and every gradient are finite, as a ``tf.cond`` on that flag; return the
    loss when the update was applied, else a non-finite value (the loss, or NaN when only a gradient was not
    finite).

    Inside a ``tf.function`` the choice stays in the graph, so no host synchronisation is needed; eagerly the
    (CPU) tensors are already computed when ``tf.cond`` reads them.
    """
    loss_finite = tf.math.is_finite(loss)
    finite = tf.reduce_all(tf.stack([loss_finite, *(tf.reduce_all(tf.math.is_finite(g)) for g in grads)]))
    tf.cond(finite, lambda: optimizer.apply(grads), lambda: None)
    return tf.where(finite | ~loss_finite, loss, tf.constant(float("nan"), dtype=loss.dtype))
