"""The optimizer state in the suite's own form, the same on every backend: what ``get_optimizer_state`` returns,
``set_optimizer_state`` takes and a saved model file holds.

    {"step": t, "slots": {slot: [one dict per layer, shaped like the trainable parameters], ...}}

``step`` is the number of updates applied (the schedule's t). The slots are the textbook ones of each optimizer
(DESIGN.md sections 2 and 7), whatever a backend stores internally:

| optimizer | slots |
|---|---|
| sgd | none |
| momentum | velocity (torch's v ← μ·v + g) |
| adam, adamw | m, v (the biased moments m ← β1·m + (1 − β1)·g, v ← β2·v + (1 − β2)·g²) |
| rmsprop | square_avg, plus grad_avg when centered, plus momentum_buffer when momentum > 0 |
| adagrad | sum |
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InputError
from .spec import NetworkSpec, OptimizerSpec, check_number
from .validation import check_params

State = dict[str, Any]


def slot_names(config: OptimizerSpec) -> tuple[str, ...]:
    if config.name == "momentum":
        return ("velocity",)
    if config.name in ("adam", "adamw"):
        return ("m", "v")
    if config.name == "rmsprop":
        return ("square_avg", *(("grad_avg",) if config.centered else ()),
                *(("momentum_buffer",) if config.momentum > 0 else ()))
    return ("sum",) if config.name == "adagrad" else ()


def check_optimizer_state(state: Any, spec: NetworkSpec, dtype: np.dtype) -> State:
    """A validated copy of ``state``: the slots this spec's optimizer has, each with the trainable parameters'
    structure, shapes and dtype, finite; ``step`` an integer ≥ 0."""
    if not isinstance(state, dict) or set(state) != {"step", "slots"}:
        raise InputError(f"optimizer state: expected a dict with keys 'slots' and 'step', got "
                         f"{sorted(state) if isinstance(state, dict) else type(state).__name__}")
    step = int(check_number("optimizer state['step']", state["step"], low=0, high=None, integer=True,
                            error=InputError))
    expected = slot_names(spec.optimizer)
    slots = state["slots"]
    if not isinstance(slots, dict) or set(slots) != set(expected):
        raise InputError(f"optimizer state['slots']: {spec.optimizer.name} expects slots {list(expected)}, got "
                         f"{sorted(slots) if isinstance(slots, dict) else type(slots).__name__}")
    trainable = spec.trainable_shapes()
    checked = {name: check_params(slots[name], spec, dtype, shapes=trainable, field=f"optimizer state[{name!r}]")
               for name in expected}
    return {"step": step, "slots": checked}
