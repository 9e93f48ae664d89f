"""The layers a spec holds: one frozen dataclass per type, each validating its fields and inferring its shapes.

Shapes are per sample: a vector ``(d,)`` or an image ``(H, W, C)``, channels last (DESIGN.md section 6).

| type | fields (defaults) | input → output | parameters |
|---|---|---|---|
| dense | units, activation (linear) | (d,) → (units,) | W (d, units), b (units,)[, alpha (units,)] |
| conv2d | filters, kernel_size, strides (1), padding (valid), activation (linear) | (H, W, C) → (H', W', filters) | W (kh, kw, C, filters), b (filters,)[, alpha (filters,)] |
| max_pool2d, avg_pool2d | pool_size, strides (pool_size), padding (valid) | (H, W, C) → (H', W', C) | none |
| flatten | | (H, W, C) → (H·W·C,), in (h, w, c) order | none |
| dropout | rate | unchanged | none |
| batch_norm | momentum (0.1), eps (1e-5) | unchanged | gamma, beta, running_mean, running_var, each (C,) |

``kernel_size``, ``strides`` and ``pool_size`` take an int or a pair (rows, columns). Output sizes per side, for a
window k and stride s: "valid" gives ⌊(n − k)/s⌋ + 1, "same" gives ⌈n/s⌉ (TensorFlow's rule, with the padding of
:func:`same_padding`). leaky_relu takes ``negative_slope`` (0.01) and prelu ``alpha_init`` (0.25): one learnable
slope per unit of a dense layer, per filter of a conv2d layer.

dropout and batch_norm behave differently in training (DESIGN.md section 7): dropout keeps each element with
probability 1 − rate and scales it by 1/(1 − rate); batch_norm normalizes each feature (a vector's units, an
image's channels over N, H and W) with the batch's statistics and moves its running statistics, which are
parameters (``get_params``) but not trainable (no gradient; :attr:`Layer.STATE` names them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Mapping

from ..errors import SpecError
from .values import check_choice, check_keys, check_number, shown

ACTIVATIONS = ("linear", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "softmax")
PADDINGS = ("valid", "same")
DEFAULT_LEAKY_SLOPE = 0.01
DEFAULT_PRELU_ALPHA = 0.25

Shape = tuple[int, ...]


def conv_output_size(size: int, window: int, stride: int, padding: str) -> int:
    """Output length of one side: ⌊(n − k)/s⌋ + 1 for "valid", ⌈n/s⌉ for "same"."""
    return (size - window) // stride + 1 if padding == "valid" else -(-size // stride)


def same_padding(size: int, window: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding of one side, (before, after): total = max((out − 1)·s + k − n, 0), split so an
    odd total puts its extra row or column after (at the bottom or right)."""
    total = max((conv_output_size(size, window, stride, "same") - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def check_pair(field_name: str, value: Any) -> tuple[int, int]:
    """An int ≥ 1 or a pair of them, as a (rows, columns) tuple."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise SpecError(f"{field_name}: expected an integer >= 1 or a pair of them, got {shown(value)}")
        return (int(check_number(f"{field_name}[0]", value[0], low=1, integer=True, high=None)),
                int(check_number(f"{field_name}[1]", value[1], low=1, integer=True, high=None)))
    size = int(check_number(field_name, value, low=1, integer=True, high=None))
    return size, size


class Layer:
    """What every layer spec provides (see the module docstring for each type's meaning)."""

    type: ClassVar[str]
    ALLOWED: ClassVar[tuple[str, ...]] = ()
    STATE: ClassVar[tuple[str, ...]] = ()

    def validated(self, where: str) -> "Layer":
        """A canonical copy (ints as ints, pairs as tuples), or a :class:`SpecError` naming the field."""
        return self

    def to_dict(self) -> dict:
        return {"type": self.type}

    @classmethod
    def from_dict(cls, data: Mapping, where: str) -> "Layer":
        check_keys(where, data, ("type", *cls.ALLOWED))
        return cls(**{key: value for key, value in data.items() if key != "type"}).validated(where)

    def output_shape(self, shape: Shape, where: str) -> Shape:
        """The per-sample output shape for input ``shape``, or a :class:`SpecError` when the layer cannot take it."""
        raise NotImplementedError

    def param_shapes(self, shape: Shape) -> dict[str, Shape]:
        """Trainable parameter shapes for input ``shape`` (empty for layers without parameters)."""
        return {}

    def gemm_flops(self, shape: Shape, batch: int, first: bool) -> int:
        """FLOPs of the layer's GEMMs in one train step on ``batch`` samples (DESIGN.md section 5): forward, the
        weight gradient and, unless it is the ``first`` layer, the input gradient. 0 for layers without GEMMs."""
        return 0

    def has_activation(self) -> bool:
        return False


@dataclass(frozen=True, kw_only=True)
class Activated(Layer):
    """A layer with an activation after its affine map (dense, conv2d)."""

    activation: str = "linear"
    negative_slope: float = DEFAULT_LEAKY_SLOPE
    alpha_init: float = DEFAULT_PRELU_ALPHA

    def _activation_checked(self, where: str) -> dict:
        check_choice(f"{where}.activation", self.activation, ACTIVATIONS)
        return {"negative_slope": check_number(f"{where}.negative_slope", self.negative_slope, low=0.0, high=None),
                "alpha_init": check_number(f"{where}.alpha_init", self.alpha_init, high=None)}

    def _activation_dict(self) -> dict:
        out: dict[str, Any] = {"activation": self.activation}
        if self.activation == "leaky_relu":
            out["negative_slope"] = self.negative_slope
        if self.activation == "prelu":
            out["alpha_init"] = self.alpha_init
        return out

    @classmethod
    def from_dict(cls, data: Mapping, where: str) -> "Layer":
        check_keys(where, data, ("type", *cls.ALLOWED))
        activation = data.get("activation", "linear")
        check_choice(f"{where}.activation", activation, ACTIVATIONS)
        for option, owner in (("negative_slope", "leaky_relu"), ("alpha_init", "prelu")):
            if option in data and activation != owner:
                raise SpecError(f"{where}.{option}: only allowed with activation {owner}, "
                                f"got activation {activation!r}")
        return super().from_dict(data, where)

    def has_activation(self) -> bool:
        return True

    def _slope_params(self, units: int) -> dict[str, Shape]:
        return {"alpha": (units,)} if self.activation == "prelu" else {}


@dataclass(frozen=True, kw_only=True)
class DenseLayer(Activated):
    """z = a @ W + b with W (fan_in, units), then a = activation(z)."""

    type: ClassVar[str] = "dense"
    ALLOWED: ClassVar[tuple[str, ...]] = ("units", "activation", "negative_slope", "alpha_init")
    units: int

    def validated(self, where: str) -> "DenseLayer":
        units = int(check_number(f"{where}.units", self.units, low=1, high=None, integer=True))
        return replace(self, units=units, **self._activation_checked(where))

    def to_dict(self) -> dict:
        return {"units": self.units, **self._activation_dict()}

    def output_shape(self, shape: Shape, where: str) -> Shape:
        if len(shape) != 1:
            raise SpecError(f"{where}: a dense layer takes a vector, but its input has shape {shape}; put a "
                            f"flatten layer before it")
        return (self.units,)

    def param_shapes(self, shape: Shape) -> dict[str, Shape]:
        return {"W": (shape[0], self.units), "b": (self.units,), **self._slope_params(self.units)}

    def gemm_flops(self, shape: Shape, batch: int, first: bool) -> int:
        return (2 if first else 3) * 2 * batch * shape[0] * self.units


@dataclass(frozen=True, kw_only=True)
class Conv2DLayer(Activated):
    """z = cross-correlation of the (padded) input with W (kh, kw, C_in, filters), plus b; then a = activation(z)."""

    type: ClassVar[str] = "conv2d"
    ALLOWED: ClassVar[tuple[str, ...]] = ("filters", "kernel_size", "strides", "padding", "activation",
                                          "negative_slope", "alpha_init")
    filters: int
    kernel_size: Any
    strides: Any = 1
    padding: str = "valid"

    def validated(self, where: str) -> "Conv2DLayer":
        filters = int(check_number(f"{where}.filters", self.filters, low=1, high=None, integer=True))
        return replace(self, filters=filters, kernel_size=check_pair(f"{where}.kernel_size", self.kernel_size),
                       strides=check_pair(f"{where}.strides", self.strides),
                       padding=check_choice(f"{where}.padding", self.padding, PADDINGS),
                       **self._activation_checked(where))

    def to_dict(self) -> dict:
        return {"type": self.type, "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, **self._activation_dict()}

    def output_shape(self, shape: Shape, where: str) -> Shape:
        return (*window_output(self, "kernel_size", self.kernel_size, shape, where), self.filters)

    def param_shapes(self, shape: Shape) -> dict[str, Shape]:
        return {"W": (*self.kernel_size, shape[2], self.filters), "b": (self.filters,),
                **self._slope_params(self.filters)}

    def gemm_flops(self, shape: Shape, batch: int, first: bool) -> int:
        rows, cols = window_output(self, "kernel_size", self.kernel_size, shape, "")
        return (2 if first else 3) * 2 * batch * rows * cols * math.prod(self.kernel_size) * shape[2] * self.filters


@dataclass(frozen=True, kw_only=True)
class Pool2DLayer(Layer):
    """The max or the mean of each window, per channel (see :class:`MaxPool2DLayer`, :class:`AvgPool2DLayer`)."""

    ALLOWED: ClassVar[tuple[str, ...]] = ("pool_size", "strides", "padding")
    pool_size: Any
    strides: Any = None
    padding: str = "valid"

    def validated(self, where: str) -> "Pool2DLayer":
        pool = check_pair(f"{where}.pool_size", self.pool_size)
        strides = pool if self.strides is None else check_pair(f"{where}.strides", self.strides)
        return replace(self, pool_size=pool, strides=strides,
                       padding=check_choice(f"{where}.padding", self.padding, PADDINGS))

    def to_dict(self) -> dict:
        return {"type": self.type, "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding}

    def output_shape(self, shape: Shape, where: str) -> Shape:
        return (*window_output(self, "pool_size", self.pool_size, shape, where), shape[2])


@dataclass(frozen=True, kw_only=True)
class MaxPool2DLayer(Pool2DLayer):
    """Each output is the max of its window; "same" padding pads with −∞. The gradient of a window goes wholly to
    its first maximum in row-major order."""

    type: ClassVar[str] = "max_pool2d"


@dataclass(frozen=True, kw_only=True)
class AvgPool2DLayer(Pool2DLayer):
    """Each output is the mean of its window's real (unpadded) elements: with "same" padding, windows at the border
    divide by fewer than kh·kw (TensorFlow's rule; torch and flax count the padding by default)."""

    type: ClassVar[str] = "avg_pool2d"


@dataclass(frozen=True, kw_only=True)
class FlattenLayer(Layer):
    """(H, W, C) → (H·W·C,), element (h, w, c) going to position (h·W + w)·C + c."""

    type: ClassVar[str] = "flatten"

    def output_shape(self, shape: Shape, where: str) -> Shape:
        return (math.prod(shape),)


@dataclass(frozen=True, kw_only=True)
class DropoutLayer(Layer):
    """Inverted dropout: in training, out = x ⊙ m / (1 − rate) with m_i ~ Bernoulli(1 − rate); out = x otherwise."""

    type: ClassVar[str] = "dropout"
    ALLOWED: ClassVar[tuple[str, ...]] = ("rate",)
    rate: float

    def validated(self, where: str) -> "DropoutLayer":
        return replace(self, rate=check_number(f"{where}.rate", self.rate, low=0.0, high=1.0))

    def to_dict(self) -> dict:
        return {"type": self.type, "rate": self.rate}

    def output_shape(self, shape: Shape, where: str) -> Shape:
        return shape


@dataclass(frozen=True, kw_only=True)
class BatchNormLayer(Layer):
    """y = γ·(x − μ)/√(σ² + eps) + β per feature: a vector's units, or an image's channels over (N, H, W).

    Training uses the batch's mean μ and biased variance σ² and moves running ← (1 − momentum)·running +
    momentum·batch, the running variance from the unbiased (N − 1) batch variance (torch's conventions);
    inference uses the running statistics.
    """

    type: ClassVar[str] = "batch_norm"
    ALLOWED: ClassVar[tuple[str, ...]] = ("momentum", "eps")
    STATE: ClassVar[tuple[str, ...]] = ("running_mean", "running_var")
    momentum: float = 0.1
    eps: float = 1e-5

    def validated(self, where: str) -> "BatchNormLayer":
        return replace(self, momentum=check_number(f"{where}.momentum", self.momentum, low=0.0, high=1.0,
                                                   high_open=False),
                       eps=check_number(f"{where}.eps", self.eps, low=0.0, low_open=True, high=None))

    def to_dict(self) -> dict:
        return {"type": self.type, "momentum": self.momentum, "eps": self.eps}

    def output_shape(self, shape: Shape, where: str) -> Shape:
        if len(shape) not in (1, 3):
            raise SpecError(f"{where}: batch_norm takes a vector or an (H, W, C) image, got shape {shape}")
        return shape

    def param_shapes(self, shape: Shape) -> dict[str, Shape]:
        features = (shape[-1],)
        return {"gamma": features, "beta": features, "running_mean": features, "running_var": features}


def window_output(layer: Layer, field_name: str, window: tuple[int, int], shape: Shape, where: str
                  ) -> tuple[int, int]:
    """Output rows and columns of a windowed layer on an (H, W, C) input, or a :class:`SpecError` when the input
    is not an image or the window does not fit (a "valid" window larger than its input side)."""
    if len(shape) != 3:
        raise SpecError(f"{where}: a {layer.type} layer takes an (H, W, C) image, but its input has shape {shape}")
    sizes = []
    for side, size, k, s in zip(("height", "width"), shape[:2], window, layer.strides):
        out = conv_output_size(size, k, s, layer.padding)
        if out < 1:
            raise SpecError(f"{where}.{field_name}: a window of {k} does not fit the input {side} {size} with "
                            f"padding {layer.padding!r}; the output {side} would be {out}")
        sizes.append(out)
    return sizes[0], sizes[1]


LAYER_TYPES: dict[str, type[Layer]] = {cls.type: cls for cls in (DenseLayer, Conv2DLayer, MaxPool2DLayer,
                                                                   AvgPool2DLayer, FlattenLayer, DropoutLayer,
                                                                   BatchNormLayer)}


def layer_from_dict(data: Any, where: str) -> Layer:
    """A layer spec from its dict (``type`` defaults to "dense"), validated."""
    if isinstance(data, Layer):
        return data.validated(where)
    if not isinstance(data, Mapping):
        raise SpecError(f"{where}: expected a layer dict, got {type(data).__name__}")
    kind = check_choice(f"{where}.type", data.get("type", "dense"), tuple(LAYER_TYPES))
    return LAYER_TYPES[kind].from_dict(data, where)
