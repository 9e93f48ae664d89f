"""The optimizer of a TensorFlow model and the guarded update.

- :mod:`.formulas`: the spec's formulas (sgd, momentum, adam, adamw, rmsprop, adagrad, coupled weight decay) in TF
  ops, because Keras' own optimizers compute different ones (the table there);
- :mod:`.schedules`: the spec's learning-rate schedules as Keras schedule objects, evaluated in float64;
- :mod:`.native`: Keras' own optimizer objects, for ``optimizer.native = true``.

:func:`update_if_finite` applies one update, the batch_norm layers' moving statistics included, only when the loss
and every gradient are finite.
"""

from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf

from backprop.spec import OptimizerSpec

from .formulas import FORMULAS
from .native import KerasOptimizer, native_optimizer


def make_optimizer(variables: list[keras.Variable], config: OptimizerSpec):
    """Keras' optimizer when ``config.native``, else the spec's formula on the variables' ``tf.Variable`` values."""
    if config.native:
        return KerasOptimizer(variables, native_optimizer(config))
    return FORMULAS[config.name]([variable.value for variable in variables], config)


def update_if_finite(optimizer, loss: tf.Tensor, grads: list[tf.Tensor],
                     statistics: Sequence[tuple[keras.Variable, tf.Tensor]] = ()) -> tf.Tensor:
    """Apply one update (the optimizer's step and each ``(variable, new value)`` of ``statistics``) only when
    ``loss`` and every gradient are finite, as a ``tf.cond`` on that flag; return the loss when the update was
    applied, else a non-finite value (the loss, or NaN when only a gradient was not finite).

    A rejected step changes nothing: parameters, optimizer slots, the step count and the moving statistics stay.
    Inside a ``tf.function`` the choice stays in the graph, so no host synchronisation is needed; eagerly the
    (CPU) tensors are already computed when ``tf.cond`` reads them.
    """
    loss_finite = tf.math.is_finite(loss)
    finite = tf.reduce_all(tf.stack([loss_finite, *(tf.reduce_all(tf.math.is_finite(g)) for g in grads)]))

    def apply() -> None:
        optimizer.apply(grads)
        for variable, value in statistics:
            variable.assign(value)

    tf.cond(finite, apply, lambda: None)
    return tf.where(finite | ~loss_finite, loss, tf.constant(float("nan"), dtype=loss.dtype))
