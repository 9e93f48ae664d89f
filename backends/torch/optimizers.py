"""The spec's optimizers and schedules (DESIGN.md sections 2 and 7) as ``torch.optim`` objects.

torch's own formulas are the spec's, so the framework's optimizers run them directly (steps t = 1, 2, …):

- sgd: ``torch.optim.SGD(lr, weight_decay)``: g ← g + wd·p; p ← p − lr·g.
- momentum: ``torch.optim.SGD(lr, momentum=μ, dampening=0, nesterov, weight_decay)``: g ← g + wd·p; v ← μ·v + g;
  p ← p − lr·v, or with nesterov p ← p − lr·(g + μ·v). torch's first step sets v = g, which is μ·0 + g.
- adam: ``torch.optim.Adam(lr, betas=(β1, β2), eps=ε)``: m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
  p ← p − (lr/(1−β1^t))·m / (√v/√(1−β2^t) + ε), i.e. lr·m̂/(√v̂ + ε) with ε inside the denominator.
- adamw: ``torch.optim.AdamW(lr, betas, eps, weight_decay)``: p ← p·(1 − lr·wd) (decoupled, with this step's lr),
  then the Adam step above.
- rmsprop: ``torch.optim.RMSprop(lr, alpha=ρ, eps, weight_decay, momentum=μ, centered)``: g ← g + wd·p;
  v ← ρ·v + (1−ρ)·g²; p ← p − lr·g/(√v + ε), ε outside the root. centered: ḡ ← ρ·ḡ + (1−ρ)·g (torch's
  ``lerp_``) and the denominator is √(v − ḡ²) + ε; μ > 0: buf ← μ·buf + g/denominator, p ← p − lr·buf. torch calls
  ρ ``alpha``; its ``alpha`` is not a learning rate.
- adagrad: ``torch.optim.Adagrad(lr, initial_accumulator_value, eps, weight_decay)``: g ← g + wd·p; s ← s + g²;
  p ← p − lr·g/(√s + ε), s starting at ``initial_accumulator`` (torch fills it when the optimizer is built) and
  ``lr_decay`` at its default 0.

For the spec they are built with ``fused=True`` wherever torch has a fused CPU kernel (SGD, Adam, AdamW, Adagrad):
one kernel per step for all parameters instead of torch's default on CPU, a Python loop of a few ops per parameter.
Both compute the same formula (the fused Adam kernels form their bias corrections in double, as the loop does in
Python floats); only rounding differs, and over 200 steps of SGD, momentum and Adam the two stayed within 1e-15
(float64) and 3e-7 (float32) of the NumPy reference in norm ratio. Fused Adam is ~20 % faster per step on small
nets. ``RMSprop`` has no ``fused`` argument (torch 2.13): it runs torch's default, the per-parameter loop on CPU.

Schedules: ``torch.optim.lr_scheduler.LambdaLR`` with the spec's own ``schedule.factor``, stepped once after each
applied update, sets lr_t = lr·factor(t) for the t-th applied update counted from 0 (building it takes its initial
step, lr·factor(0) = lr). torch's ``CosineAnnealingLR`` is not used: it rises again after ``T_max`` (the spec holds
at alpha) and is meant to step once per epoch. A rejected step (non-finite loss or gradient) steps neither the
optimizer nor the schedule. ``LambdaLR.state_dict()`` holds its counters (``last_epoch``, the last lr) but not the
factor function (it keeps only a callable object's ``__dict__``); a restored model gets the function from its spec.

``native=True`` gives torch's default optimizer object for the name instead: the spec's lr, momentum, nesterov,
betas and rho, every other argument (ε, weight decay, centered, the accumulator's start and the implementation
choice) left at torch's default; a schedule still applies.

The suite's optimizer state (``get_optimizer_state``) is torch's per-parameter state under the suite's slot names
(:data:`TORCH_SLOTS`: momentum_buffer is the velocity, exp_avg and exp_avg_sq are Adam's m and v); the step is the
model's count of applied updates, which torch's Adam, RMSprop and Adagrad also keep per parameter and LambdaLR as
``last_epoch``.

Hyperparameters are passed as Python floats and slots (momentum buffers, m, v, square averages, sums) are
allocated like their parameters, so they stay in the model dtype. The step counters are torch's own float32
scalars; they are counts, not slots.
"""

from __future__ import annotations

import torch
from torch import nn

from backprop.spec import OPTIMIZER_DEFAULTS, OptimizerSpec

# The spec's hyperparameters that a native optimizer leaves at torch's default, by their torch names.
TORCH_NAMES = {"eps": "eps", "weight_decay": "weight_decay", "centered": "centered",
               "initial_accumulator": "initial_accumulator_value"}
# torch's optimizers without a fused CPU kernel (torch 2.13).
UNFUSED = ("rmsprop",)
# torch's per-parameter state key of each of the suite's slots (backprop.optimizer_state).
TORCH_SLOTS = {"velocity": "momentum_buffer", "m": "exp_avg", "v": "exp_avg_sq", "square_avg": "square_avg",
               "grad_avg": "grad_avg", "momentum_buffer": "momentum_buffer", "sum": "sum"}
# The optimizers whose per-parameter state holds torch's own step count (SGD keeps none).
COUNTS_PER_PARAMETER = ("adam", "adamw", "rmsprop", "adagrad")


def make_optimizer(params: list[nn.Parameter], config: OptimizerSpec) -> torch.optim.Optimizer:
    """torch's optimizer for ``config``: the spec's exact formula, or torch's native default when ``config.native``."""
    betas = (float(config.beta1), float(config.beta2))
    kind, named = {
        "sgd": (torch.optim.SGD, {}),
        "momentum": (torch.optim.SGD, {"momentum": float(config.momentum), "nesterov": config.nesterov}),
        "adam": (torch.optim.Adam, {"betas": betas}),
        "adamw": (torch.optim.AdamW, {"betas": betas}),
        "rmsprop": (torch.optim.RMSprop, {"alpha": float(config.rho), "momentum": float(config.momentum)}),
        "adagrad": (torch.optim.Adagrad, {}),
    }[config.name]
    if not config.native:
        named.update({TORCH_NAMES[key]: _plain(getattr(config, key)) for key in OPTIMIZER_DEFAULTS[config.name]
                      if key in TORCH_NAMES})
        if config.name not in UNFUSED:
            named["fused"] = True
    return kind(params, lr=float(config.lr), **named)


def make_schedule(optimizer: torch.optim.Optimizer, config: OptimizerSpec) -> torch.optim.lr_scheduler.LambdaLR | None:
    """``LambdaLR`` driven by the spec's schedule (lr_t = lr·factor(t)), or None without a schedule."""
    if config.schedule is None:
        return None
    return torch.optim.lr_scheduler.LambdaLR(optimizer, config.schedule.factor)


def _plain(value: bool | float) -> bool | float:
    """A flag as it is, a number as a Python float (never a NumPy scalar that could change a slot's dtype)."""
    return value if isinstance(value, bool) else float(value)
