"""The optimizer of a spec: its name, its hyperparameters with the defaults of DESIGN.md section 7, and an optional
learning-rate schedule.

| name | hyperparameters [defaults] |
|---|---|
| sgd | lr [0.01], weight_decay [0] |
| momentum | lr [0.01], momentum [0.9], nesterov [false], weight_decay [0] |
| adam | lr [1e-3], beta1 [0.9], beta2 [0.999], eps [1e-8] |
| rmsprop | lr [0.01], rho [0.99], eps [1e-8], momentum [0], centered [false], weight_decay [0] |
| adagrad | lr [0.01], initial_accumulator [0], eps [1e-10], weight_decay [0] |
| adamw | lr [1e-3], beta1 [0.9], beta2 [0.999], eps [1e-8], weight_decay [0.01] |

``weight_decay`` is torch's coupled form, g ← g + wd·p, except for adamw, whose decay is decoupled:
p ← p·(1 − lr·wd) before the Adam step. A ``schedule`` sets the learning rate of each optimizer step t = 0, 1, …
(the number of updates applied before it) to lr·factor(t) (:class:`ScheduleSpec`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import SpecError
from .values import check_choice, check_keys, check_number, shown

# Hyperparameters each optimizer accepts, with their defaults.
OPTIMIZER_DEFAULTS: dict[str, dict[str, Any]] = {
    "sgd": {"lr": 0.01, "weight_decay": 0.0},
    "momentum": {"lr": 0.01, "momentum": 0.9, "nesterov": False, "weight_decay": 0.0},
    "adam": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    "rmsprop": {"lr": 0.01, "rho": 0.99, "eps": 1e-8, "momentum": 0.0, "centered": False, "weight_decay": 0.0},
    "adagrad": {"lr": 0.01, "initial_accumulator": 0.0, "eps": 1e-10, "weight_decay": 0.0},
    "adamw": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01},
}
OPTIMIZERS = tuple(OPTIMIZER_DEFAULTS)

SCHEDULE_DEFAULTS: dict[str, dict[str, Any]] = {
    "exponential": {"decay_rate": None, "decay_steps": None, "staircase": False},
    "cosine": {"decay_steps": None, "alpha": 0.0},
    "step": {"step_size": None, "gamma": None},
}
SCHEDULES = tuple(SCHEDULE_DEFAULTS)
# Fields of each kind: (low bound, low bound excluded, high bound, high bound excluded, integer).
_BOUNDS = {"decay_rate": (0.0, True, None, True, False), "decay_steps": (1, False, None, True, True),
           "alpha": (0.0, False, 1.0, False, False), "step_size": (1, False, None, True, True),
           "gamma": (0.0, True, None, True, False)}


@dataclass(frozen=True)
class ScheduleSpec:
    """A learning-rate schedule, evaluated at every optimizer step t = 0, 1, … as lr_t = lr·factor(t):

    - exponential: decay_rate^(t / decay_steps), the exponent floored when ``staircase``;
    - cosine: (1 − alpha)·½·(1 + cos(π·min(t, decay_steps)/decay_steps)) + alpha, held at alpha after decay_steps
      (torch's ``CosineAnnealingLR`` would rise again, and steps per epoch);
    - step: gamma^⌊t / step_size⌋.
    """

    name: str
    decay_rate: float | None = None
    decay_steps: int | None = None
    staircase: bool = False
    alpha: float = 0.0
    step_size: int | None = None
    gamma: float | None = None

    def factor(self, t: int) -> float:
        if self.name == "exponential":
            exponent = t / self.decay_steps
            return self.decay_rate ** (math.floor(exponent) if self.staircase else exponent)
        if self.name == "cosine":
            progress = min(t, self.decay_steps) / self.decay_steps
            return (1.0 - self.alpha) * 0.5 * (1.0 + math.cos(math.pi * progress)) + self.alpha
        return self.gamma ** (t // self.step_size)

    def to_dict(self) -> dict:
        return {"name": self.name, **{key: getattr(self, key) for key in SCHEDULE_DEFAULTS[self.name]}}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "ScheduleSpec":
        if not isinstance(data, Mapping):
            raise SpecError(f"{where}: expected a schedule dict, got {shown(data)}")
        check_keys(where, data, ("name", *{key for fields in SCHEDULE_DEFAULTS.values() for key in fields}),
                   required=("name",))
        name = check_choice(f"{where}.name", data["name"], SCHEDULES)
        check_keys(where, data, ("name", *SCHEDULE_DEFAULTS[name]),
                   required=("name", *(k for k, v in SCHEDULE_DEFAULTS[name].items() if v is None)))
        values: dict[str, Any] = {"name": name}
        for key, default in SCHEDULE_DEFAULTS[name].items():
            value = data.get(key, default)
            if key == "staircase":
                values[key] = _flag(f"{where}.{key}", value)
            else:
                low, low_open, high, high_open, integer = _BOUNDS[key]
                values[key] = check_number(f"{where}.{key}", value, low=low, low_open=low_open, high=high,
                                           high_open=high_open, integer=integer)
        return cls(**values)


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer, its hyperparameters and its schedule.

    ``native=True`` asks an adapter to run its framework's own default optimizer object instead of the spec's exact
    formula; that is for measuring the frameworks' drift, never for agreement checks.
    """

    name: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    nesterov: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    rho: float = 0.99
    centered: bool = False
    initial_accumulator: float = 0.0
    weight_decay: float = 0.0
    schedule: ScheduleSpec | None = None
    native: bool = False

    def lr_at(self, t: int) -> float:
        """The learning rate of optimizer step t (counted from 0)."""
        return self.lr if self.schedule is None else self.lr * self.schedule.factor(t)

    def to_dict(self) -> dict:
        out = {"name": self.name, **{k: getattr(self, k) for k in OPTIMIZER_DEFAULTS[self.name]}}
        if self.schedule is not None:
            out["schedule"] = self.schedule.to_dict()
        if self.native:
            out["native"] = True
        return out

    @classmethod
    def from_dict(cls, data: Mapping | str, where: str = "optimizer") -> "OptimizerSpec":
        if isinstance(data, str):
            data = {"name": data}
        every = {key for defaults in OPTIMIZER_DEFAULTS.values() for key in defaults}
        check_keys(where, data, ("name", "native", "schedule", *sorted(every)), required=("name",))
        name = check_choice(f"{where}.name", data["name"], OPTIMIZERS)
        check_keys(where, data, ("name", "native", "schedule", *OPTIMIZER_DEFAULTS[name]))
        values = {**OPTIMIZER_DEFAULTS[name], **data}
        checked: dict[str, Any] = {"name": name}
        checked["lr"] = check_number(f"{where}.lr", values["lr"], low=0.0, low_open=True, high=None)
        for key in ("momentum", "beta1", "beta2", "rho"):
            if key in values:
                checked[key] = check_number(f"{where}.{key}", values[key], low=0.0, high=1.0)
        if "eps" in values:
            checked["eps"] = check_number(f"{where}.eps", values["eps"], low=0.0, low_open=True, high=None)
        for key in ("weight_decay", "initial_accumulator"):
            if key in values:
                checked[key] = check_number(f"{where}.{key}", values[key], low=0.0, high=None)
        for flag in ("nesterov", "centered", "native"):
            if flag in values:
                checked[flag] = _flag(f"{where}.{flag}", values[flag])
        if values.get("schedule") is not None:
            checked["schedule"] = (values["schedule"] if isinstance(values["schedule"], ScheduleSpec)
                                   else ScheduleSpec.from_dict(values["schedule"], f"{where}.schedule"))
        return cls(**checked)


def _flag(field_name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"{field_name}: expected true or false, got {value!r}")
    return value
