"""The benchmark's model table: named networks and custom ``mlp:`` width strings, both resolved to spec dicts.

Named models (the three seed networks come from :mod:`backprop.presets`, so the benchmark times what the presets
train):

| name | network | loss, optimizer | default batch |
|---|---|---|---|
| xor | 2-4-1 sigmoid | binary_cross_entropy, sgd | 4 |
| classifier | 10-64-10 relu | cross_entropy, adam | 32 |
| digits | 64-128-10 relu | cross_entropy, adam | 128 |
| mnist | 784-256-256-10 relu | cross_entropy, adam | 128 |
| wide | 1024-4096-4096-1024 relu, linear output | mse, sgd | 256 |

The batch sizes of the three larger models are those of the performance targets' table.

A model marked ``large`` is a designated larger model: the default sweep runs only each framework's best mode and
its same-mode minimal loop on it, ``--sweep full`` every mode (:mod:`benchmarks.sweeps`). The larger
convolutional models are to be marked so when they are added; ``python -m benchmarks.run --plan`` then shows what
they add to the default sweep's time.

A custom model is ``mlp:W0-W1-...-Wk[:hidden_activation[:loss[:optimizer]]]``, e.g. ``mlp:784-256-256-10:relu``.
Its loss defaults to cross_entropy (softmax output) when Wk ≥ 2, else binary_cross_entropy (sigmoid output); an
mse model gets a linear output. The optimizer defaults to adam.
"""

from __future__ import annotations

from dataclasses import dataclass

from backprop.errors import SpecError
from backprop.spec import ACTIVATIONS, LOSSES, OPTIMIZERS, as_spec, mlp_spec

OUTPUT_ACTIVATION = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid", "mse": "linear"}


@dataclass(frozen=True)
class BenchModel:
    """A network to time: its name (the ``model`` column), spec dict, default batch size and whether it is a
    designated larger model (see the module docstring)."""

    name: str
    spec: dict
    batch_size: int
    large: bool = False

    @property
    def widths(self) -> list[int]:
        return [self.spec["input_dim"], *(layer["units"] for layer in self.spec["layers"])]

    @property
    def hidden_width(self) -> int:
        """The widest hidden layer (the x axis of the width-scaling plot); the output width for 1-layer nets."""
        return max(self.widths[1:-1] or self.widths[-1:])


def dense_spec(widths: list[int], hidden: str = "relu", loss: str | None = None, optimizer: str = "adam") -> dict:
    """A dense network spec from layer widths ``[input_dim, hidden..., output]``, its output layer set by the loss."""
    loss = loss or ("cross_entropy" if widths[-1] >= 2 else "binary_cross_entropy")
    return mlp_spec(widths, hidden, OUTPUT_ACTIVATION[loss], loss, {"name": optimizer})


def _preset_spec(name: str) -> dict:
    from backprop.presets import PRESETS

    return PRESETS[name].spec


def named_models() -> dict[str, BenchModel]:
    return {model.name: model for model in (
        BenchModel("xor", _preset_spec("xor-bce"), 4),
        BenchModel("classifier", _preset_spec("classifier"), 32),
        BenchModel("digits", _preset_spec("digits"), 128),
        BenchModel("mnist", dense_spec([784, 256, 256, 10]), 128),
        BenchModel("wide", {**dense_spec([1024, 4096, 4096, 1024], loss="mse"), "optimizer": {"name": "sgd"}}, 256),
    )}


def parse_mlp(text: str) -> BenchModel:
    """Parse ``mlp:784-256-256-10[:relu[:cross_entropy[:adam]]]``; its default batch size is 64."""
    parts = text.split(":")
    if parts[0] != "mlp" or not 2 <= len(parts) <= 5:
        raise SpecError(f"model: expected mlp:W0-W1-...[:activation[:loss[:optimizer]]], got {text!r}")
    try:
        widths = [int(w) for w in parts[1].split("-")]
    except ValueError:
        raise SpecError(f"model: widths must be integers joined by '-', got {parts[1]!r}") from None
    if len(widths) < 2:
        raise SpecError(f"model: an mlp needs at least an input and an output width, got {parts[1]!r}")
    options = parts[2:] + [None] * (3 - len(parts[2:]))
    hidden, loss, optimizer = options
    for value, allowed, what in ((hidden, ACTIVATIONS, "activation"), (loss, LOSSES, "loss"),
                                 (optimizer, OPTIMIZERS, "optimizer")):
        if value is not None and value not in allowed:
            raise SpecError(f"model: {what} must be one of {', '.join(allowed)}; got {value!r} in {text!r}")
    spec = dense_spec(widths, hidden or "relu", loss, optimizer or "adam")
    as_spec(spec)
    return BenchModel(text, spec, 64)


def resolve_model(name: str) -> BenchModel:
    """A named model or an ``mlp:`` string."""
    if name.startswith("mlp:"):
        return parse_mlp(name)
    models = named_models()
    if name not in models:
        raise SpecError(f"model: unknown model {name!r}; named models are {', '.join(models)}, "
                        f"or give mlp:784-256-256-10:relu")
    return models[name]
