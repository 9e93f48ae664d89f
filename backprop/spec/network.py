"""The whole network: input shape, layers, loss, optimizer, init and dtype, validated and shape-checked once.

A spec round-trips through a dict (:meth:`NetworkSpec.to_dict` / :meth:`NetworkSpec.from_dict`) and JSON
(:meth:`NetworkSpec.to_json` / :meth:`NetworkSpec.from_json`). The input is ``"input_dim": d`` for vectors or
``"input_shape": [H, W, C]`` for images. Every field is checked when the spec is constructed, and each layer's
output shape is inferred from its input then: an invalid network raises :class:`~backprop.errors.SpecError` naming
the field before anything is built.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import SpecError
from .layers import Activated, DenseLayer, Layer, Shape, layer_from_dict
from .optimizer import OptimizerSpec
from .values import canonical_dtype, check_choice, check_keys, check_number, shown

LOSSES = ("mse", "cross_entropy", "binary_cross_entropy")
INITIALIZERS = ("glorot_uniform", "he_normal", "uniform")
# How the loss sums over the batch (DESIGN.md section 2): the mean, torch's reduction="sum", or mse's ½·Σ.
LOSS_REDUCTIONS = ("mean", "sum", "half_sum")
# Who draws the dropout masks in training: the suite (seeded, identical on every backend) or each framework.
DROPOUT_RNGS = ("suite", "native")

# The output activation each loss is defined with (DESIGN.md section 2).
LOSS_OUTPUT = {"cross_entropy": ("softmax",), "binary_cross_entropy": ("sigmoid",)}


@dataclass(frozen=True)
class NetworkSpec:
    """A feedforward network: ``input_shape`` per sample, ``layers``, a ``loss``, an ``optimizer``.

    ``init`` names the suite-owned initializer (:mod:`backprop.init`); ``dtype`` is the default model dtype.
    ``dropout_rng`` says who draws dropout masks in training: "suite" (the default: one mask per dropout layer per
    step from the model's seeded generator, identical on every backend) or "native" (each framework's own
    generator, for timing). ``loss_reduction`` is "mean" (the default), "sum" (torch's ``reduction="sum"``) or, for
    mse, "half_sum" (the textbooks' ½·Σ (a − y)²); see :meth:`loss_scale`. ``shapes`` holds each layer's output
    shape, inferred at construction.
    """

    input_shape: tuple[int, ...]
    layers: tuple[Layer, ...]
    loss: str = "mse"
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    init: str = "glorot_uniform"
    dtype: str = "float32"
    dropout_rng: str = "suite"
    loss_reduction: str = "mean"
    shapes: tuple[Shape, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", _input_shape(self.input_shape))
        if not isinstance(self.layers, (list, tuple)) or not self.layers:
            raise SpecError(f"layers: expected a non-empty list of layers, got {shown(self.layers)}")
        layers = tuple(layer_from_dict(layer, f"layers[{i}]") for i, layer in enumerate(self.layers))
        object.__setattr__(self, "layers", layers)
        check_choice("loss", self.loss, LOSSES)
        check_choice("init", self.init, INITIALIZERS)
        check_choice("dropout_rng", self.dropout_rng, DROPOUT_RNGS)
        check_choice("loss_reduction", self.loss_reduction, LOSS_REDUCTIONS)
        if self.loss_reduction == "half_sum" and self.loss != "mse":
            raise SpecError(f"loss_reduction: half_sum (½·Σ) is defined for loss mse only; allowed for "
                            f"{self.loss} are 'mean', 'sum'; got 'half_sum'")
        object.__setattr__(self, "dtype", canonical_dtype(self.dtype))
        optimizer = self.optimizer
        if isinstance(optimizer, OptimizerSpec):
            optimizer = {**optimizer.to_dict(), "native": optimizer.native, "schedule": optimizer.schedule}
        if not isinstance(optimizer, (Mapping, str)):
            raise SpecError(f"optimizer: expected an optimizer dict or name, got {shown(optimizer)}")
        object.__setattr__(self, "optimizer", OptimizerSpec.from_dict(optimizer))
        shapes, shape = [], self.input_shape
        for i, layer in enumerate(layers):
            shape = layer.output_shape(shape, f"layers[{i}]")
            shapes.append(shape)
        object.__setattr__(self, "shapes", tuple(shapes))
        self._check_output()

    def _check_output(self) -> None:
        last = len(self.layers) - 1
        if not any(layer.param_shapes(shape) for layer, shape in zip(self.layers, self.input_shapes)):
            raise SpecError("layers: a network needs at least one layer with parameters (dense or conv2d)")
        for i, layer in enumerate(self.layers[:-1]):
            if getattr(layer, "activation", None) == "softmax":
                raise SpecError(f"layers[{i}].activation: softmax is allowed only on the last layer "
                                f"(layers[{last}]), a dense layer paired with loss cross_entropy")
        if len(self.shapes[-1]) != 1:
            raise SpecError(f"layers[{last}]: the network's output must be a vector, but it has shape "
                            f"{self.shapes[-1]}; end with a flatten or dense layer")
        out = self.layers[-1]
        activation = getattr(out, "activation", "linear")
        needed = LOSS_OUTPUT.get(self.loss)
        if needed and (activation not in needed or not isinstance(out, DenseLayer)):
            raise SpecError(f"layers[{last}].activation: loss {self.loss} needs a dense {needed[0]} output layer; "
                            f"got a {out.type} layer with activation {activation!r}")
        if activation == "softmax":
            if self.loss != "cross_entropy":
                raise SpecError(f"loss: a softmax output layer is paired only with cross_entropy; got {self.loss!r}")
            if self.output_dim < 2:
                raise SpecError(f"layers[{last}].units: a softmax output needs at least 2 units; "
                                f"got {self.output_dim}")

    @property
    def input_dim(self) -> int:
        """Numbers per input sample (d for vectors, H·W·C for images)."""
        return math.prod(self.input_shape)

    @property
    def output_dim(self) -> int:
        return self.shapes[-1][0]

    @property
    def fan_ins(self) -> list[int]:
        """Numbers per sample entering each layer (its input shape's size)."""
        return [math.prod(shape) for shape in self.input_shapes]

    @property
    def input_shapes(self) -> tuple[Shape, ...]:
        """Each layer's input shape: the spec's input shape, then every layer's output but the last."""
        return (self.input_shape, *self.shapes[:-1])

    @property
    def loss_from_logits(self) -> bool:
        """True when the loss is computed from the last layer's logits z (cross_entropy, binary_cross_entropy).

        Then the output activation (softmax, sigmoid) is folded into the loss, and applied only by ``predict``.
        """
        return self.loss in LOSS_OUTPUT

    def loss_scale(self, rows: int) -> float:
        """c in L = c·L_mean for a batch of ``rows``: 1 for "mean"; for "sum" the number of terms the mean divides
        by (rows·k for mse and binary_cross_entropy, rows for cross_entropy); half of that for "half_sum"."""
        if self.loss_reduction == "mean":
            return 1.0
        terms = rows if self.loss == "cross_entropy" else rows * self.output_dim
        return terms / 2.0 if self.loss_reduction == "half_sum" else float(terms)

    def param_shapes(self) -> list[dict[str, Shape]]:
        """Shapes of the parameter list, one dict per layer (empty for layers without parameters)."""
        return [layer.param_shapes(shape) for layer, shape in zip(self.layers, self.input_shapes)]

    def trainable_shapes(self) -> list[dict[str, Shape]]:
        """The parameters that have gradients and that the optimizer updates: all but the layers' :attr:`STATE`
        (batch_norm's running statistics). Gradients are shaped like this."""
        return [{name: shape for name, shape in shapes.items() if name not in layer.STATE}
                for layer, shapes in zip(self.layers, self.param_shapes())]

    @property
    def dropout_layers(self) -> list[int]:
        """Indices of the dropout layers (each gets one mask per training step)."""
        return [i for i, layer in enumerate(self.layers) if layer.type == "dropout"]

    def param_count(self) -> int:
        """Number of parameters (every W, b, prelu alpha, batch_norm gamma, beta and running statistic)."""
        return sum(math.prod(shape) for layer in self.param_shapes() for shape in layer.values())

    def activation_count(self) -> int:
        """Numbers per sample that the layers output (the sum of their output sizes)."""
        return sum(math.prod(shape) for shape in self.shapes)

    def flops_per_step(self, batch_size: int) -> int:
        """FLOPs of the GEMMs of one train step, counting only the work every backend does (DESIGN.md section 5).

        A dense layer's GEMM costs 2·B·fan_in·units and a conv2d layer's 2·B·H'·W'·kh·kw·C_in·C_out, each three
        times per step (forward, weight gradient, input gradient), except that no backend computes the input
        gradient of the first layer with parameters. Pooling and flatten do no GEMM.
        """
        total, first = 0, True
        for layer, shape in zip(self.layers, self.input_shapes):
            flops = layer.gemm_flops(shape, batch_size, first)
            total += flops
            first = first and flops == 0
        return total

    def summary_text(self) -> str:
        """A Keras-style table: each layer, its output shape and its parameter count, then the total."""
        rows = [("Layer (type)", "Output shape", "Param #"), ("input", str((None, *self.input_shape)), "0")]
        for i, (layer, params) in enumerate(zip(self.layers, self.param_shapes())):
            name = f"{i}: {layer.type}" + (f" ({layer.activation})" if isinstance(layer, Activated) and
                                           layer.activation != "linear" else "")
            rows.append((name, str((None, *self.shapes[i])), f"{sum(math.prod(s) for s in params.values()):,}"))
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        line = "  ".join("-" * width for width in widths)
        text = [" | ".join(cell.ljust(width) for cell, width in zip(rows[0], widths)), line]
        text += [" | ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows[1:]]
        text += [line, f"Total parameters: {self.param_count():,} ({self.loss}, {self.optimizer.name}, {self.dtype})"]
        return "\n".join(text)

    def summary(self) -> None:
        """Print :meth:`summary_text`."""
        print(self.summary_text())

    def to_dict(self) -> dict:
        size = {"input_dim": self.input_shape[0]} if len(self.input_shape) == 1 else \
            {"input_shape": list(self.input_shape)}
        out = {**size, "layers": [layer.to_dict() for layer in self.layers], "loss": self.loss,
               "optimizer": self.optimizer.to_dict(), "init": self.init, "dtype": self.dtype}
        if self.dropout_rng != "suite":
            out["dropout_rng"] = self.dropout_rng
        if self.loss_reduction != "mean":
            out["loss_reduction"] = self.loss_reduction
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> "NetworkSpec":
        check_keys("spec", data, ("input_dim", "input_shape", "layers", "loss", "optimizer", "init", "dtype",
                                  "dropout_rng", "loss_reduction"), required=("layers",))
        if ("input_dim" in data) == ("input_shape" in data):
            raise SpecError("spec: expected exactly one of input_dim (vectors) and input_shape ([H, W, C] images); "
                            f"got {'both' if 'input_dim' in data else 'neither'}")
        values = dict(data)
        if "input_dim" in values:
            values["input_shape"] = (check_number("input_dim", values.pop("input_dim"), low=1, high=None,
                                                  integer=True),)
        return cls(**values)

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


def _input_shape(value: Any) -> tuple[int, ...]:
    """A vector size (d,) or an image shape (H, W, C), every entry an integer ≥ 1."""
    if not isinstance(value, (list, tuple)) or len(value) not in (1, 3):
        raise SpecError(f"input_shape: expected [H, W, C] (or input_dim for vectors), got {shown(value)}")
    name = "input_dim" if len(value) == 1 else "input_shape"
    return tuple(int(check_number(name if len(value) == 1 else f"input_shape[{i}]", size, low=1, high=None,
                                  integer=True)) for i, size in enumerate(value))


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


def as_spec(spec: NetworkSpec | Mapping | str | Path) -> NetworkSpec:
    """Accept a :class:`NetworkSpec`, a dict, JSON text or a ``.json`` file path."""
    if isinstance(spec, NetworkSpec):
        return spec
    if isinstance(spec, Mapping):
        return NetworkSpec.from_dict(spec)
    if isinstance(spec, (str, Path)):
        return NetworkSpec.from_json(spec)
    raise SpecError(f"spec: expected a NetworkSpec, a dict, JSON text or a .json path; got {type(spec).__name__}")
