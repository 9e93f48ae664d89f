"""The backend-agnostic network spec: plain, validated, immutable data.

A spec is ``input_dim``, a list of dense layers, a loss and an optimizer. It round-trips through a dict
(:meth:`NetworkSpec.to_dict` / :meth:`NetworkSpec.from_dict`) and JSON (:meth:`to_json` / :meth:`from_json`).
Every field is checked when the spec is constructed; a bad field raises :class:`~backprop.errors.SpecError`
naming the field, the allowed values and what was given.
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .errors import SpecError

ACTIVATIONS = ("linear", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "softmax")
LOSSES = ("mse", "cross_entropy", "binary_cross_entropy")
OPTIMIZERS = ("sgd", "momentum", "adam")
INITIALIZERS = ("glorot_uniform", "he_normal", "uniform")
DTYPES = ("float32", "float64")

DEFAULT_LEAKY_SLOPE = 0.01
DEFAULT_PRELU_ALPHA = 0.25

# The output activation each loss is defined with (DESIGN.md section 2).
LOSS_OUTPUT = {"cross_entropy": ("softmax",), "binary_cross_entropy": ("sigmoid",)}


def check_number(field_name: str, value: Any, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = True, integer: bool = False,
                 error: type[Exception] = SpecError) -> float | int:
    """Return ``value`` as a Python number inside the given bounds, or raise ``error`` naming ``field_name``.

    Accepted: Python and NumPy real scalars (``int``, ``float``, ``np.integer``, ``np.floating``) and other
    ``numbers.Real``. Rejected, as their Python equivalents are: bools (Python or NumPy), complex numbers, strings,
    arrays of any shape, and values that do not fit a float (``10**400``).
    """
    kind = "an integer" if integer else "a number"
    lo = "" if low is None else f"{'>' if low_open else '>='} {low}"
    hi = "" if high is None else f"{'<' if high_open else '<='} {high}"
    bounds = " and ".join(b for b in (lo, hi) if b)
    wanted = f"{kind}{' ' + bounds if bounds else ''}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise error(f"{field_name}: expected {wanted}, got {_shown(value)} ({type(value).__name__})")
    if integer:
        if not isinstance(value, numbers.Integral):
            raise error(f"{field_name}: expected {wanted}, got {_shown(value)}")
        number: float | int = int(value)
    else:
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise error(f"{field_name}: expected a finite number{' ' + bounds if bounds else ''}, "
                        f"got {_shown(value)}")
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if too_low or too_high:
        raise error(f"{field_name}: expected {wanted}, got {_shown(value)}")
    return number


def _shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters (a 400-digit integer stays readable in a message)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 3]}..."


def canonical_dtype(value: Any, field_name: str = "dtype") -> str:
    """The name (``float32`` or ``float64``) of the dtype ``value`` names: a name such as ``"float32"``, ``"f4"``
    or ``"double"``, a NumPy scalar type such as ``np.float32``, or an ``np.dtype``. Anything else is a
    :class:`SpecError`."""
    wanted = f"{field_name}: expected one of {', '.join(DTYPES)} (or a NumPy dtype naming one)"
    if value is None or isinstance(value, (bool, numbers.Number)):
        raise SpecError(f"{wanted}; got {value!r}")
    try:
        name = np.dtype(value).name
    except (TypeError, ValueError):
        raise SpecError(f"{wanted}; got {_shown(value)}") from None
    if name not in DTYPES:
        raise SpecError(f"{wanted}; got {_shown(value)} ({name})")
    return name


def check_choice(field_name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise naming the field and listing the choices."""
    if not isinstance(value, str) or value not in choices:
        raise SpecError(f"{field_name}: expected one of {', '.join(choices)}; got {value!r}")
    return value


def check_keys(field_name: str, given: Mapping, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> None:
    """Reject unknown or missing keys of a dict, naming them and listing the allowed ones."""
    if not isinstance(given, Mapping):
        raise SpecError(f"{field_name}: expected a dict, got {type(given).__name__}")
    unknown = [k for k in given if k not in allowed]
    if unknown:
        raise SpecError(f"{field_name}: unknown key(s) {', '.join(map(repr, unknown))}; "
                        f"allowed keys are {', '.join(allowed)}")
    missing = [k for k in required if k not in given]
    if missing:
        raise SpecError(f"{field_name}: missing required key(s) {', '.join(missing)}")


@dataclass(frozen=True)
class LayerSpec:
    """One dense layer: ``z = x @ W + b`` with ``W`` shaped (fan_in, units), then ``a = activation(z)``.

    ``negative_slope`` is the leaky_relu slope s (used only by leaky_relu); ``alpha_init`` is the initial
    per-unit prelu slope α (used only by prelu).
    """

    units: int
    activation: str = "linear"
    negative_slope: float = DEFAULT_LEAKY_SLOPE
    alpha_init: float = DEFAULT_PRELU_ALPHA

    def validated(self, where: str) -> "LayerSpec":
        check_number(f"{where}.units", self.units, low=1, high=None, integer=True)
        check_choice(f"{where}.activation", self.activation, ACTIVATIONS)
        slope = check_number(f"{where}.negative_slope", self.negative_slope, low=0.0, high=None)
        alpha = check_number(f"{where}.alpha_init", self.alpha_init, high=None)
        return LayerSpec(int(self.units), self.activation, slope, alpha)

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"units": self.units, "activation": self.activation}
        if self.activation == "leaky_relu":
            out["negative_slope"] = self.negative_slope
        if self.activation == "prelu":
            out["alpha_init"] = self.alpha_init
        return out

    @classmethod
    def from_dict(cls, data: Mapping, where: str = "layers[?]") -> "LayerSpec":
        check_keys(where, data, ("units", "activation", "negative_slope", "alpha_init"), required=("units",))
        activation = data.get("activation", "linear")
        check_choice(f"{where}.activation", activation, ACTIVATIONS)
        for option, owner in (("negative_slope", "leaky_relu"), ("alpha_init", "prelu")):
            if option in data and activation != owner:
                raise SpecError(f"{where}.{option}: only allowed with activation {owner}, "
                                f"got activation {activation!r}")
        return cls(**dict(data)).validated(where)


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


@dataclass(frozen=True)
class NetworkSpec:
    """A feedforward network: ``input_dim`` features in, dense ``layers``, a ``loss``, an ``optimizer``.

    ``init`` names the suite-owned initializer (:mod:`backprop.init`); ``dtype`` is the default model dtype.
    """

    input_dim: int
    layers: tuple[LayerSpec, ...]
    loss: str = "mse"
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    init: str = "glorot_uniform"
    dtype: str = "float32"

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_dim", check_number("input_dim", self.input_dim, low=1, high=None,
                                                           integer=True))
        if not isinstance(self.layers, (list, tuple)) or not self.layers:
            raise SpecError(f"layers: expected a non-empty list of layers, got {self.layers!r}")
        object.__setattr__(self, "layers", tuple(_as_layer(layer, f"layers[{i}]") for i, layer in
                                                 enumerate(self.layers)))
        check_choice("loss", self.loss, LOSSES)
        check_choice("init", self.init, INITIALIZERS)
        object.__setattr__(self, "dtype", canonical_dtype(self.dtype))
        optimizer = self.optimizer
        if isinstance(optimizer, OptimizerSpec):
            optimizer = {**optimizer.to_dict(), "native": optimizer.native}
        if not isinstance(optimizer, (Mapping, str)):
            raise SpecError(f"optimizer: expected an optimizer dict or name, got {optimizer!r}")
        object.__setattr__(self, "optimizer", OptimizerSpec.from_dict(optimizer))
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers[:-1]):
            if layer.activation == "softmax":
                raise SpecError(f"layers[{i}].activation: softmax is allowed only on the last layer "
                                f"(layers[{last}]), paired with loss cross_entropy")
        out = self.layers[-1]
        needed = LOSS_OUTPUT.get(self.loss)
        if needed and out.activation not in needed:
            raise SpecError(f"layers[{last}].activation: loss {self.loss} needs a {needed[0]} output layer; "
                            f"got {out.activation!r}")
        if out.activation == "softmax":
            if self.loss != "cross_entropy":
                raise SpecError(f"loss: a softmax output layer is paired only with cross_entropy; got {self.loss!r}")
            if out.units < 2:
                raise SpecError(f"layers[{last}].units: a softmax output needs at least 2 units; got {out.units}")

    @property
    def output_dim(self) -> int:
        return self.layers[-1].units

    @property
    def loss_from_logits(self) -> bool:
        """True when the loss is computed from the last layer's logits z (cross_entropy, binary_cross_entropy).

        Then the output activation (softmax, sigmoid) is folded into the loss, and applied only by ``predict``.
        """
        return self.loss in LOSS_OUTPUT

    @property
    def fan_ins(self) -> list[int]:
        """Input width of each layer: [input_dim, units_0, ..., units_{L-2}]."""
        return [self.input_dim, *(layer.units for layer in self.layers[:-1])]

    def param_shapes(self) -> list[dict[str, tuple[int, ...]]]:
        """Shapes of the parameter list: per layer ``W`` (fan_in, units), ``b`` (units,), prelu ``alpha`` (units,)."""
        shapes = []
        for fan_in, layer in zip(self.fan_ins, self.layers):
            entry = {"W": (fan_in, layer.units), "b": (layer.units,)}
            if layer.activation == "prelu":
                entry["alpha"] = (layer.units,)
            shapes.append(entry)
        return shapes

    def param_count(self) -> int:
        """Number of parameters (every W, b and prelu alpha)."""
        return sum(math.prod(shape) for layer in self.param_shapes() for shape in layer.values())

    def flops_per_step(self, batch_size: int) -> int:
        """FLOPs of the GEMMs of one train step, counting only the work every backend does.

        Each dense layer costs 2·B·fan_in·units per GEMM: z = a @ W forward, dW = aᵀ @ g and dX = g @ Wᵀ backward.
        No backend computes dX for the first layer (nothing needs dL/dX), so a step is
        6·B·Σ fan_in·units − 2·B·fan_in₁·units₁.
        """
        gemm = [2 * batch_size * fan_in * layer.units for fan_in, layer in zip(self.fan_ins, self.layers)]
        return 3 * sum(gemm) - gemm[0]

    def to_dict(self) -> dict:
        return {"input_dim": self.input_dim, "layers": [layer.to_dict() for layer in self.layers],
                "loss": self.loss, "optimizer": self.optimizer.to_dict(), "init": self.init, "dtype": self.dtype}

    @classmethod
    def from_dict(cls, data: Mapping) -> "NetworkSpec":
        check_keys("spec", data, tuple(f.name for f in fields(cls)), required=("input_dim", "layers"))
        return cls(**dict(data))

    def to_json(self, path: str | Path | None = None) -> str:
        """Serialise to JSON text; also write it to ``path`` when one is given."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    @classmethod
    def from_json(cls, source: str | Path) -> "NetworkSpec":
        """Parse a spec from JSON text, or from a ``.json`` file given as a ``Path`` or a path string.

        A string whose first non-blank character is ``{`` or ``[`` is JSON text; any other string is a path. Only
        JSON is read: no pickle, no eval. Duplicate keys in a JSON object are an error, not "the last one wins".
        """
        return cls.from_dict(parse_json(read_spec_text(source)))


# A spec file larger than this is not a spec (and would be read whole into memory).
MAX_SPEC_FILE_BYTES = 10 * 2**20


def read_spec_text(source: str | Path) -> str:
    """JSON text from ``source``: the text itself, or the contents of the ``.json`` file it names.

    A path must end in ``.json``, exist, be a regular file of at most :data:`MAX_SPEC_FILE_BYTES` and hold UTF-8
    text; otherwise a :class:`SpecError` says which of these failed.
    """
    if isinstance(source, str) and source.lstrip()[:1] in ("{", "["):
        return source
    if not isinstance(source, (str, Path)):
        raise SpecError(f"spec: expected JSON text or a .json file path, got {type(source).__name__}")
    path = Path(source)
    if path.suffix.lower() != ".json":
        raise SpecError(f"spec: a spec file must be a .json file, got {str(source)!r} (JSON text must start "
                        f"with '{{')")
    if not path.exists():
        raise SpecError(f"spec: no such file {str(path)!r}")
    if not path.is_file():
        raise SpecError(f"spec: {str(path)!r} is not a regular file")
    size = path.stat().st_size
    if size > MAX_SPEC_FILE_BYTES:
        raise SpecError(f"spec: {str(path)!r} is {size} bytes; a spec file is at most {MAX_SPEC_FILE_BYTES} bytes")
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"spec: {str(path)!r} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                        f"{exc.start})") from None


def parse_json(text: str) -> Any:
    """``json.loads`` that rejects duplicate object keys and reports malformed text as a :class:`SpecError`."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise SpecError(f"spec: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise SpecError("spec: JSON nested too deeply") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    keys = [key for key, _ in pairs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise SpecError(f"spec: duplicate key(s) {', '.join(map(repr, duplicates))} in one JSON object "
                        f"(keys {', '.join(map(repr, keys))}); each key may appear once")
    return dict(pairs)


def mlp_spec(widths: list[int], hidden: str = "relu", output: str = "linear", loss: str = "mse",
             optimizer: dict | str = "sgd", init: str = "glorot_uniform", **hidden_options: Any) -> dict:
    """A spec dict for a dense network: ``widths`` = [input_dim, hidden units..., output units].

    Every hidden layer gets activation ``hidden`` with ``hidden_options`` (e.g. ``negative_slope``); the last layer
    gets ``output``. The dict is validated when it is built into a :class:`NetworkSpec`.
    """
    return {"input_dim": widths[0],
            "layers": [{"units": w, "activation": hidden, **hidden_options} for w in widths[1:-1]]
            + [{"units": widths[-1], "activation": output}],
            "loss": loss, "optimizer": optimizer, "init": init}


def _as_layer(layer: LayerSpec | Mapping, where: str) -> LayerSpec:
    if isinstance(layer, LayerSpec):
        return layer.validated(where)
    if isinstance(layer, Mapping):
        return LayerSpec.from_dict(layer, where)
    raise SpecError(f"{where}: expected a layer dict or LayerSpec, got {type(layer).__name__}")


def as_spec(spec: NetworkSpec | Mapping | str | Path) -> NetworkSpec:
    """Accept a :class:`NetworkSpec`, a dict, JSON text or a JSON file path."""
    if isinstance(spec, NetworkSpec):
        return spec
    if isinstance(spec, Mapping):
        return NetworkSpec.from_dict(spec)
    if isinstance(spec, (str, Path)):
        return NetworkSpec.from_json(spec)
    raise SpecError(f"spec: expected a NetworkSpec, a dict, JSON text or a .json path; got {type(spec).__name__}")
