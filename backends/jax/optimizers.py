"""The spec's optimizers and schedules as optax transformations, and the update that is skipped on a non-finite step.

optax's formulas are the spec's (DESIGN.md sections 2 and 7) where the right arguments are given:

- ``optax.sgd(lr)``: p ← p − lr·g.
- ``optax.sgd(lr, momentum=μ, nesterov=...)`` = ``trace`` then ``scale_by_learning_rate``: v ← g + μ·v;
  p ← p − lr·v, and with nesterov p ← p − lr·(g + μ·v), which is torch's form (the velocity holds gradients, not
  lr-scaled steps, so a schedule scales the whole velocity as torch's does).
- ``optax.adam(lr, β1, β2, ε, eps_root=0)``: m̂ = m/(1−β1^t), v̂ = v/(1−β2^t), p ← p − lr·m̂/(√v̂ + ε). The
  bias corrections ``1 − β^t`` come from a Python float and an int32 count: float64 under ``jax_enable_x64``, so
  exact in a float64 model. A float32 model forms them in float32 from β rounded to float32, 1 − 0.999f =
  0.00099998713, so its first step's √v̂ is 6.4e-6 (100 ε) off where NumPy's and torch's float64 corrections are
  exact; measured and left, within the float32 trajectory tolerance.
- ``optax.adamw(lr, β1, β2, ε, eps_root=0, weight_decay=wd)`` = Adam, ``add_decayed_weights(wd)``, then −lr_t: the
  update is −lr_t·(adam + wd·p), i.e. p·(1 − lr_t·wd) − lr_t·adam, torch's decoupled form exactly.
- rmsprop: ``scale_by_rms`` (or ``scale_by_stddev`` when centered) with ``eps_in_sqrt=False``, g/(√v + ε) as torch
  writes it (optax's default puts ε inside the root, rsqrt(v + ε)), then ``trace(μ)``, then −lr_t. ``optax.rmsprop``
  puts the trace after the learning rate (buf ← μ·buf + lr_t·g/d; p ← p − buf), which equals torch's
  (buf ← μ·buf + g/d; p ← p − lr_t·buf) only while lr_t is constant, so the chain here puts the trace first.
- adagrad: :func:`scale_by_root_sum`, written here because ``optax.adagrad`` (``scale_by_rss``) divides by
  rsqrt(s + ε), ε inside the root, and no choice of ε makes that g/(√s + ε).
- coupled ``weight_decay`` (sgd, momentum, rmsprop, adagrad): ``optax.add_decayed_weights(wd)`` chained first,
  g ← g + wd·p, torch's form.

A schedule (:func:`learning_rate`) is an optax schedule in place of the learning rate. optax evaluates it at its own
count of updates, which lives in the optimizer state and moves only when an update is applied (the skip branch of
:func:`update_if_finite` returns the state as it was), so step t of the spec (the updates applied before it) gets
lr·factor(t). Slots are ``zeros_like`` / ``full_like`` the parameters, so they keep the model dtype; every constant
is a weak-typed Python float.

Every optimizer starts with :func:`count_applied_steps`, so the state holds the spec's step t whatever optax itself
counts; :func:`read_state` and :func:`write_state` translate optax's state to and from the suite's form
(:mod:`backprop.optimizer_state`) through :data:`SUITE_SLOTS`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from backprop.errors import SpecError
from backprop.spec import OptimizerSpec


def learning_rate(config: OptimizerSpec) -> float | optax.Schedule:
    """lr_t = lr·factor(t) as an optax schedule (:class:`~backprop.spec.ScheduleSpec`), or the constant lr:

    - exponential: ``optax.exponential_decay(lr, decay_steps, decay_rate, staircase)``: lr·rate^(t/steps), the
      exponent floored when staircase;
    - cosine: ``optax.cosine_decay_schedule(lr, decay_steps, alpha)``: lr·((1 − α)·½(1 + cos(π·min(t, T)/T)) + α),
      clamped at T as the suite's is;
    - step: ``optax.exponential_decay(lr, step_size, gamma, staircase=True)``: lr·γ^⌊t/step_size⌋.

    optax passes its int32 count straight in, and ``exponential_decay`` divides it by an int: JAX makes that
    int32 quotient float32 even under ``jax_enable_x64``, so a float64 model's lr_t would be rounded to float32
    (up to 5e-7 off over 300 steps of a decay of 0.3 per 40 steps). The count is converted to the default float
    type first: float64 in a float64 model's calls; a float32 model casts lr_t to float32 anyway.
    """
    lr, spec = float(config.lr), config.schedule
    if spec is None:
        return lr
    if spec.name == "exponential":
        schedule = optax.exponential_decay(lr, spec.decay_steps, float(spec.decay_rate), staircase=spec.staircase)
    elif spec.name == "cosine":
        schedule = optax.cosine_decay_schedule(lr, spec.decay_steps, alpha=float(spec.alpha))
    else:
        schedule = optax.exponential_decay(lr, spec.step_size, float(spec.gamma), staircase=True)
    return lambda count: schedule(jnp.asarray(count, dtype=float))


class ScaleByRootSumState(NamedTuple):
    """Adagrad's accumulated squared gradients s."""

    sum_of_squares: optax.Updates


def scale_by_root_sum(initial_accumulator: float, eps: float) -> optax.GradientTransformation:
    """Adagrad with ε outside the root (torch's form): s ← s + g²; u = g/(√s + ε), s starting at
    ``initial_accumulator``. ``optax.scale_by_rss`` computes g·rsqrt(s + ε) instead."""
    initial, eps = float(initial_accumulator), float(eps)

    def init(params):
        return ScaleByRootSumState(optax.tree.full_like(params, initial))

    def update(updates, state, params=None):
        sums = jax.tree.map(lambda g, s: s + g * g, updates, state.sum_of_squares)
        updates = jax.tree.map(lambda g, s: g / (jnp.sqrt(s) + eps), updates, sums)
        return updates, ScaleByRootSumState(sums)

    return optax.GradientTransformation(init, update)


def make_optimizer(config: OptimizerSpec) -> optax.GradientTransformation:
    """The optax transformation of the spec's formula, every hyperparameter taken from ``config`` (see the module
    docstring); ``config.native`` asks for optax's own default instead (:func:`native_optimizer`). Either comes after
    :func:`count_applied_steps`."""
    return optax.chain(count_applied_steps(), native_optimizer(config) if config.native else _formula(config))


def _formula(config: OptimizerSpec) -> optax.GradientTransformation:
    """The spec's formula for ``config`` as optax transformations (see the module docstring)."""
    lr, name = learning_rate(config), config.name
    if name == "adam":
        return optax.adam(lr, b1=float(config.beta1), b2=float(config.beta2), eps=float(config.eps), eps_root=0.0)
    if name == "adamw":
        return optax.adamw(lr, b1=float(config.beta1), b2=float(config.beta2), eps=float(config.eps),
                           eps_root=0.0, weight_decay=float(config.weight_decay))
    if name == "sgd":
        scaled = optax.sgd(lr)
    elif name == "momentum":
        scaled = optax.sgd(lr, momentum=float(config.momentum), nesterov=config.nesterov)
    elif name == "rmsprop":
        scaled = _rmsprop(config, lr)
    else:
        scaled = optax.chain(scale_by_root_sum(config.initial_accumulator, config.eps),
                             optax.scale_by_learning_rate(lr))
    if config.weight_decay:
        return optax.chain(optax.add_decayed_weights(float(config.weight_decay)), scaled)
    return scaled


def _rmsprop(config: OptimizerSpec, lr: float | optax.Schedule) -> optax.GradientTransformation:
    """v ← ρ·v + (1−ρ)·g²; d = √v + ε (centered: ḡ ← ρ·ḡ + (1−ρ)·g, d = √(v − ḡ²) + ε); u = g/d, then
    buf ← μ·buf + u when μ > 0, then p ← p − lr_t·(buf or u)."""
    scale = optax.scale_by_stddev if config.centered else optax.scale_by_rms
    parts = [scale(decay=float(config.rho), eps=float(config.eps), initial_scale=0.0, eps_in_sqrt=False)]
    if config.momentum > 0:
        parts.append(optax.trace(decay=float(config.momentum)))
    return optax.chain(*parts, optax.scale_by_learning_rate(lr))


def native_optimizer(config: OptimizerSpec) -> optax.GradientTransformation:
    """optax's own default for the name, for measuring drift (never for agreement): the spec's lr (or schedule),
    momentum and nesterov, betas, rmsprop's decay rate ρ and centering, and weight decay; everything else at
    optax's defaults (adam's and adamw's ε 1e-8, rmsprop's ε 1e-8 inside the root, adagrad's accumulator 0.1 and
    ε 1e-7 inside the root). optax has no weight-decay argument on sgd, rmsprop or adagrad, so a coupled decay is
    ``add_decayed_weights`` chained before, as optax's documentation writes it."""
    lr, name = learning_rate(config), config.name
    if name == "adam":
        return optax.adam(lr, b1=float(config.beta1), b2=float(config.beta2))
    if name == "adamw":
        return optax.adamw(lr, b1=float(config.beta1), b2=float(config.beta2),
                           weight_decay=float(config.weight_decay))
    if name == "sgd":
        native = optax.sgd(lr)
    elif name == "momentum":
        native = optax.sgd(lr, momentum=float(config.momentum), nesterov=config.nesterov)
    elif name == "rmsprop":
        native = optax.rmsprop(lr, decay=float(config.rho), centered=config.centered,
                               momentum=float(config.momentum) if config.momentum > 0 else None)
    else:
        native = optax.adagrad(lr)
    if config.weight_decay:
        return optax.chain(optax.add_decayed_weights(float(config.weight_decay)), native)
    return native


def update_if_finite(optimizer: optax.GradientTransformation, loss, grads, params, opt_state, stats, new_stats):
    """One optimizer update, and the running statistics moved to ``new_stats``, both skipped (params, optimizer
    state and ``stats`` returned as they are) unless ``loss`` and every gradient are finite. Returns
    (params, opt_state, stats, loss), the loss replaced by NaN when only a gradient was non-finite.

    The choice is a ``jax.lax.cond`` on device, so no host synchronisation is needed, and only the taken branch
    runs: a ``jnp.where`` over every parameter and state buffer instead cost a digits-size adam step 1.5x. A
    schedule's count is part of the optimizer state, so a skipped step does not advance the schedule either.
    """

    def apply(operands):
        grads, params, opt_state, _, new_stats = operands
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, new_stats

    def skip(operands):
        _, params, opt_state, stats, _ = operands
        return params, opt_state, stats

    loss_finite = jnp.isfinite(loss)
    finite = loss_finite
    for leaf in jax.tree_util.tree_leaves(grads):
        finite = finite & jnp.all(jnp.isfinite(leaf))
    params, opt_state, stats = jax.lax.cond(finite, apply, skip, (grads, params, opt_state, stats, new_stats))
    return params, opt_state, stats, jnp.where(finite | ~loss_finite, loss, jnp.nan)


class AppliedStepsState(NamedTuple):
    """The number of updates applied, the spec's step t."""

    count: jax.Array


def count_applied_steps() -> optax.GradientTransformation:
    """Passes the updates through and counts them: t ← t + 1 (int32). sgd, momentum, rmsprop and adagrad without a
    schedule keep no count in optax."""

    def init(params):
        return AppliedStepsState(jnp.zeros([], jnp.int32))

    def update(updates, state, params=None):
        return updates, AppliedStepsState(state.count + 1)

    return optax.GradientTransformation(init, update)


# (optax state class, field) -> the suite's slot; a trace is the momentum's velocity, or rmsprop's momentum buffer.
SUITE_SLOTS = {("ScaleByAdamState", "mu"): "m", ("ScaleByAdamState", "nu"): "v",
               ("TraceState", "trace"): "velocity",
               ("ScaleByRmsState", "nu"): "square_avg",
               ("ScaleByRStdDevState", "mu"): "grad_avg", ("ScaleByRStdDevState", "nu"): "square_avg",
               ("ScaleByRootSumState", "sum_of_squares"): "sum", ("ScaleByRssState", "sum_of_squares"): "sum"}
# Fields that count updates: each equals the applied steps t in a state the suite writes.
COUNTS = {("AppliedStepsState", "count"), ("ScaleByAdamState", "count"), ("ScaleByScheduleState", "count")}


def _slot(config: OptimizerSpec, key: tuple[str, str]) -> str:
    slot = SUITE_SLOTS[key]
    return "momentum_buffer" if slot == "velocity" and config.name == "rmsprop" else slot


def _rebuilt(node: Any, visit) -> Any:
    """``node`` (optax's nested tuples of state NamedTuples) with each field in :data:`SUITE_SLOTS` or
    :data:`COUNTS` replaced by ``visit((class name, field), value)``."""
    if isinstance(node, tuple) and hasattr(node, "_fields"):
        values = {}
        for field in node._fields:
            key, value = (type(node).__name__, field), getattr(node, field)
            values[field] = visit(key, value) if key in SUITE_SLOTS or key in COUNTS else _rebuilt(value, visit)
        return type(node)(**values)
    if isinstance(node, tuple):
        return tuple(_rebuilt(item, visit) for item in node)
    return node


def _check_convertible(config: OptimizerSpec) -> None:
    if config.native and config.name == "rmsprop" and config.momentum > 0:
        raise SpecError("optimizer.native: optax's own rmsprop keeps its momentum after the learning rate "
                        "(buf ← μ·buf + lr_t·g/d), so its state has no suite form; use native: false to save or "
                        "move this optimizer's state")


def read_state(config: OptimizerSpec, opt_state: Any) -> dict[str, Any]:
    """optax's ``opt_state`` in the suite's form: ``{"step": t, "slots": {slot: pytree}}`` (device arrays)."""
    _check_convertible(config)
    found: dict[str, Any] = {"slots": {}}

    def visit(key, value):
        if key == ("AppliedStepsState", "count"):
            found["step"] = int(value)
        elif key in SUITE_SLOTS:
            found["slots"][_slot(config, key)] = value
        return value

    _rebuilt(opt_state, visit)
    return found


def write_state(config: OptimizerSpec, opt_state: Any, state: dict[str, Any], to_device) -> Any:
    """``opt_state`` with the suite-form ``state``'s slots (through ``to_device``) and every count set to its step."""
    _check_convertible(config)

    def visit(key, value):
        if key in COUNTS:
            return jnp.asarray(state["step"], dtype=value.dtype)
        return to_device(state["slots"][_slot(config, key)])

    return _rebuilt(opt_state, visit)
