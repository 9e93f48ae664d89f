"""``optimizer.native = true``: Keras' own optimizer object for the name, with Keras' formulas and defaults.

| spec name | Keras object | from the spec | left at Keras' defaults |
|---|---|---|---|
| sgd | ``SGD`` | lr, weight_decay | |
| momentum | ``SGD(momentum=μ, nesterov=…)`` | lr, momentum, nesterov, weight_decay | |
| adam | ``Adam`` | lr, beta1, beta2 | ε 1e-7 (ε-hat form) |
| adamw | ``AdamW`` | lr, beta1, beta2, weight_decay | ε 1e-7 (ε-hat form) |
| rmsprop | ``RMSprop`` | lr, rho, momentum, centered, weight_decay | ε 1e-7, inside the root |
| adagrad | ``Adagrad`` | lr, weight_decay | ε 1e-7 inside the root, initial accumulator 0.1 |

A spec schedule is passed as Keras' own schedule object (Python floats, so computed in float32), evaluated by the
optimizer at its ``iterations``. Keras' ``weight_decay`` is decoupled for every optimizer (p ← p − lr·wd·p before
the step), where the spec's sgd, momentum, rmsprop and adagrad decay is coupled. The drift these differences cause
is measured and reported, never used as a tolerance (formulas side by side: :mod:`.formulas`).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from backprop.spec import OptimizerSpec

from .schedules import keras_schedule


class KerasOptimizer:
    """A Keras optimizer object run on the model's Keras variables; ``state_variables`` are all of its variables
    (slots, the float32 learning rate and the ``iterations`` count)."""

    def __init__(self, variables: list[keras.Variable], optimizer: keras.optimizers.Optimizer):
        self.variables, self.optimizer = variables, optimizer
        optimizer.build(variables)
        self.state_variables = list(optimizer.variables)

    def apply(self, grads: list[tf.Tensor]) -> None:
        self.optimizer.apply(grads, self.variables)


def native_optimizer(config: OptimizerSpec) -> keras.optimizers.Optimizer:
    """Keras' own optimizer for ``config.name`` with the spec's hyperparameters of the table above."""
    lr = float(config.lr) if config.schedule is None else keras_schedule(config.schedule, config.lr, precise=False)
    decay = {"weight_decay": float(config.weight_decay)} if config.weight_decay else {}
    optimizers = keras.optimizers
    if config.name == "adam":
        return optimizers.Adam(learning_rate=lr, beta_1=float(config.beta1), beta_2=float(config.beta2))
    if config.name == "adamw":
        return optimizers.AdamW(learning_rate=lr, weight_decay=float(config.weight_decay),
                                beta_1=float(config.beta1), beta_2=float(config.beta2))
    if config.name == "rmsprop":
        return optimizers.RMSprop(learning_rate=lr, rho=float(config.rho), momentum=float(config.momentum),
                                  centered=config.centered, **decay)
    if config.name == "adagrad":
        return optimizers.Adagrad(learning_rate=lr, **decay)
    if config.name == "momentum":
        return optimizers.SGD(learning_rate=lr, momentum=float(config.momentum), nesterov=config.nesterov, **decay)
    return optimizers.SGD(learning_rate=lr, **decay)
