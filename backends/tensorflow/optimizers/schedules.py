"""The spec's learning-rate schedules as ``keras.optimizers.schedules`` objects, evaluated in-graph at a step count.

A schedule gives the learning rate of the optimizer step t = 0, 1, … (the number of updates applied before it):
lr_t = lr·factor(t) (:class:`backprop.spec.ScheduleSpec`). Keras' formulas, read in the venv's
``keras/src/optimizers/schedules/learning_rate_schedule.py``, are the suite's:

- exponential: ``ExponentialDecay(lr, decay_steps, decay_rate, staircase)`` = lr·decay_rate^(t/decay_steps), the
  exponent floored when ``staircase``;
- cosine: ``CosineDecay(lr, decay_steps, alpha)`` = lr·((1 − alpha)·½·(1 + cos(π·min(t, decay_steps)/decay_steps))
  + alpha): Keras clamps t at decay_steps as the suite does, so the rate stays at lr·alpha afterwards;
- step: gamma^⌊t/step_size⌋ is ``ExponentialDecay(lr, decay_steps=step_size, decay_rate=gamma, staircase=True)``.

Two float32 traps: a Keras schedule computes in the dtype of ``initial_learning_rate`` converted to a tensor, and a
Python float becomes float32; and it casts ``decay_rate`` with ``ops.cast``, which turns a Python float into a
float32 tensor before casting it (0.3 becomes 0.30000001192092896 even in float64). Either rounds lr_t by ~1e-8
relative, enough to break a float64 trajectory. So the suite's formulas pass lr, decay_rate and gamma as NumPy
float64 scalars (``precise=True``; cosine's alpha only meets tensors in arithmetic, where a Python float takes the
tensor's dtype exactly): lr_t is computed in float64, as NumPy computes it with Python floats, and each optimizer
casts it to the model dtype where it uses it. Keras' own optimizers (``native``) get the schedule as a user would
write it, with Python floats.
"""

from __future__ import annotations

import keras
import numpy as np

from backprop.spec import ScheduleSpec

LearningRateSchedule = keras.optimizers.schedules.LearningRateSchedule


def keras_schedule(schedule: ScheduleSpec, lr: float, precise: bool = True) -> LearningRateSchedule:
    """The Keras schedule for ``schedule`` starting at ``lr``; evaluated in float64 when ``precise``."""
    number = np.float64 if precise else float
    schedules = keras.optimizers.schedules
    if schedule.name == "exponential":
        return schedules.ExponentialDecay(number(lr), schedule.decay_steps, number(schedule.decay_rate),
                                          staircase=schedule.staircase)
    if schedule.name == "cosine":
        return schedules.CosineDecay(number(lr), schedule.decay_steps, alpha=float(schedule.alpha))
    return schedules.ExponentialDecay(number(lr), schedule.step_size, number(schedule.gamma), staircase=True)
