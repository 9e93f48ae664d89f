"""The benchmark's model table: named networks, custom ``mlp:`` width strings and spec files, all resolved to spec
dicts.

Named models (the seed networks and LeNet-5 come from :mod:`backprop.presets`, so the benchmark times what the
presets train):

| name | network | loss, optimizer | batch | large |
|---|---|---|---|---|
| xor | 2-4-1 sigmoid | binary_cross_entropy, sgd | 4 | |
| classifier | 10-64-10 relu | cross_entropy, adam | 32 | |
| digits | 64-128-10 relu | cross_entropy, adam | 128 | |
| mnist | 784-256-256-10 relu | cross_entropy, adam | 128 | |
| mnist-bn | 784-256-256-10 relu, batch_norm after each hidden dense layer | cross_entropy, adam | 128 | |
| wide | 1024-4096-4096-1024 relu, linear output | mse, sgd | 256 | |
| lenet5 | ``backprop.presets.LENET5`` (28×28×1) | cross_entropy, adam | 128 | ✓ |
| cifar-cnn | 32×32×3: conv 50, conv 50, max-pool, dropout .25, conv 100, conv 100, | cross_entropy, | 64 | ✓ |
| | max-pool, dropout .25, flatten, dense 512 relu, dropout .5, dense 10 | momentum 0.9 | | |
| cifar-cnn-native-masks | cifar-cnn with ``"dropout_rng": "native"`` | the same | 64 | ✓ |
| fcn5 | 26752-2048-2048-2048-26752 sigmoid | cross_entropy, sgd | 64 | ✓ |

cifar-cnn is the CIFAR-10 network of ilkarman/DeepLearningFrameworks (every conv 3×3, "same" padding, relu; 2×2
pooling; lr 0.01), fcn5 DLBench's fully connected network. The batch sizes of digits, mnist and wide are those of
the performance targets' table. cifar-cnn and cifar-cnn-native-masks differ only in who draws the dropout masks: the
suite (one seeded mask per layer and step, identical on every backend; DESIGN.md section 7) or each framework, so
their two rows show what suite-owned masks cost. Only the native-masks model gets minimal loops, since those use
each framework's own dropout (:mod:`benchmarks.reference_loops`).

A model marked ``large`` is a designated larger model: the default sweep runs only each framework's best mode on
it, ``--sweep full`` every mode and its minimal loops (:mod:`benchmarks.sweeps`);
``python -m benchmarks.run --plan`` shows what they add to the default sweep's time.

A custom model is ``mlp:W0-W1-...-Wk[:hidden_activation[:loss[:optimizer]]]``, e.g. ``mlp:784-256-256-10:relu``.
Its loss defaults to cross_entropy (softmax output) when Wk ≥ 2, else binary_cross_entropy (sigmoid output); an
mse model gets a linear output. The optimizer defaults to adam.

A spec file is a path ending in ``.json`` (``--models net.json``), read with :func:`backprop.as_spec`: the model
is named after the file's stem and its default batch size is 64.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from backprop.errors import SpecError
from backprop.spec import ACTIVATIONS, LOSSES, OPTIMIZERS, as_spec, mlp_spec

OUTPUT_ACTIVATION = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid", "mse": "linear"}
SPEC_FILE_BATCH = 64


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
        """Numbers per input sample, then the width of each dense (units) and conv2d (filters) layer."""
        return spec_widths(self.spec)

    @property
    def hidden_width(self) -> int:
        """The widest hidden layer (the x axis of the width-scaling plot); the output width for 1-layer nets."""
        return hidden_width(self.spec)


def spec_widths(spec: dict) -> list[int]:
    """``[input numbers per sample, width of each dense or conv2d layer...]``; layers without a width of their
    own (pooling, flatten, dropout, batch_norm) are skipped."""
    network = as_spec(spec)
    widths = [getattr(layer, "units", None) or getattr(layer, "filters", None) for layer in network.layers]
    return [network.input_dim, *(width for width in widths if width)]


def hidden_width(spec: dict) -> int:
    """The widest dense or conv2d layer before the last; the output width for a network with one such layer."""
    widths = spec_widths(spec)
    return max(widths[1:-1] or widths[-1:])


def dense_spec(widths: list[int], hidden: str = "relu", loss: str | None = None, optimizer: str = "adam") -> dict:
    """A dense network spec from layer widths ``[input_dim, hidden..., output]``, its output layer set by the loss."""
    loss = loss or ("cross_entropy" if widths[-1] >= 2 else "binary_cross_entropy")
    return mlp_spec(widths, hidden, OUTPUT_ACTIVATION[loss], loss, {"name": optimizer})


def _preset_spec(name: str) -> dict:
    from backprop.presets import PRESETS

    return PRESETS[name].spec


def _conv(filters: int) -> dict:
    return {"type": "conv2d", "filters": filters, "kernel_size": 3, "padding": "same", "activation": "relu"}


def cifar_cnn_spec() -> dict:
    """The CIFAR-10 network of ilkarman/DeepLearningFrameworks on 32×32×3 images (see the module docstring)."""
    pool, flatten = {"type": "max_pool2d", "pool_size": 2}, {"type": "flatten"}
    return {"input_shape": [32, 32, 3], "layers": [
        _conv(50), _conv(50), pool, {"type": "dropout", "rate": 0.25},
        _conv(100), _conv(100), pool, {"type": "dropout", "rate": 0.25},
        flatten, {"units": 512, "activation": "relu"}, {"type": "dropout", "rate": 0.5},
        {"units": 10, "activation": "softmax"}],
        "loss": "cross_entropy", "optimizer": {"name": "momentum", "lr": 0.01, "momentum": 0.9}}


def batch_norm_spec(widths: list[int]) -> dict:
    """A relu classifier of ``widths`` with a batch_norm layer after each hidden dense layer, adam."""
    spec = dense_spec(widths)
    hidden = [[layer, {"type": "batch_norm"}] for layer in spec["layers"][:-1]]
    return {**spec, "layers": [*(layer for pair in hidden for layer in pair), spec["layers"][-1]]}


def named_models() -> dict[str, BenchModel]:
    from backprop.presets import LENET5

    cifar = cifar_cnn_spec()
    fcn5 = mlp_spec([26752, 2048, 2048, 2048, 26752], "sigmoid", "softmax", "cross_entropy", {"name": "sgd"})
    return {model.name: model for model in (
        BenchModel("xor", _preset_spec("xor-bce"), 4),
        BenchModel("classifier", _preset_spec("classifier"), 32),
        BenchModel("digits", _preset_spec("digits"), 128),
        BenchModel("mnist", dense_spec([784, 256, 256, 10]), 128),
        BenchModel("mnist-bn", batch_norm_spec([784, 256, 256, 10]), 128),
        BenchModel("wide", {**dense_spec([1024, 4096, 4096, 1024], loss="mse"), "optimizer": {"name": "sgd"}}, 256),
        BenchModel("lenet5", LENET5, 128, large=True),
        BenchModel("cifar-cnn", cifar, 64, large=True),
        BenchModel("cifar-cnn-native-masks", {**cifar, "dropout_rng": "native"}, 64, large=True),
        BenchModel("fcn5", fcn5, 64, large=True),
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


def is_spec_file(name: str) -> bool:
    return name.lower().endswith(".json")


def spec_file_model(path: str) -> BenchModel:
    """The model of a ``.json`` spec file, named after its stem; a missing or invalid file is a SpecError naming
    the entry."""
    if not Path(path).is_file():
        raise SpecError(f"model: no such spec file {path!r}")
    try:
        spec = as_spec(Path(path)).to_dict()
    except SpecError as exc:
        raise SpecError(f"model: spec file {path!r}: {exc}") from None
    return BenchModel(Path(path).stem, spec, SPEC_FILE_BATCH)


def resolve_model(name: str) -> BenchModel:
    """A named model, an ``mlp:`` string or a ``.json`` spec file."""
    if name.startswith("mlp:"):
        return parse_mlp(name)
    if is_spec_file(name):
        return spec_file_model(name)
    models = named_models()
    if name not in models:
        raise SpecError(f"model: unknown model {name!r}; named models are {', '.join(models)}, "
                        f"or give mlp:784-256-256-10:relu or a spec file net.json")
    return models[name]
