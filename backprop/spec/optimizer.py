"""The optimizer of a spec: its name and hyperparameters, with the defaults of DESIGN.md section 2."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import SpecError
from .values import check_choice, check_keys, check_number

OPTIMIZERS = ("sgd", "momentum", "adam")


# Hyperparameters each optimizer accepts, with their defaults (DESIGN.md section 2).
OPTIMIZER_DEFAULTS: dict[str, dict[str, Any]] = {
    "sgd": {"lr": 0.01},
    "momentum": {"lr": 0.01, "momentum": 0.9, "nesterov": False},
    "adam": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
}


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer and its hyperparameters.

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
    native: bool = False

    def to_dict(self) -> dict:
        out = {"name": self.name, **{k: getattr(self, k) for k in OPTIMIZER_DEFAULTS[self.name]}}
        if self.native:
            out["native"] = True
        return out

    @classmethod
    def from_dict(cls, data: Mapping | str, where: str = "optimizer") -> "OptimizerSpec":
        if isinstance(data, str):
            data = {"name": data}
        check_keys(where, data, ("name", "lr", "momentum", "nesterov", "beta1", "beta2", "eps", "native"),
                   required=("name",))
        name = check_choice(f"{where}.name", data["name"], OPTIMIZERS)
        allowed = ("name", "native", *OPTIMIZER_DEFAULTS[name])
        check_keys(where, data, allowed)
        values = {**OPTIMIZER_DEFAULTS[name], **data}
        checked: dict[str, Any] = {"name": name}
        checked["lr"] = check_number(f"{where}.lr", values["lr"], low=0.0, low_open=True, high=None)
        for key in ("momentum", "beta1", "beta2"):
            if key in values:
                checked[key] = check_number(f"{where}.{key}", values[key], low=0.0, high=1.0)
        if "eps" in values:
            checked["eps"] = check_number(f"{where}.eps", values["eps"], low=0.0, low_open=True, high=None)
        for flag in ("nesterov", "native"):
            if flag in values:
                if not isinstance(values[flag], bool):
                    raise SpecError(f"{where}.{flag}: expected true or false, got {values[flag]!r}")
                checked[flag] = values[flag]
        return cls(**checked)


