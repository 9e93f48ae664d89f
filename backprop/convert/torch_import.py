"""``backprop.from_torch(module, input_shape)``: a torch ``nn.Sequential`` as a spec and its parameters.

Supported: ``nn.Linear``, ``nn.Conv2d``, ``nn.MaxPool2d``, ``nn.AvgPool2d``, ``nn.Flatten``, ``nn.Dropout``,
``nn.BatchNorm1d``/``nn.BatchNorm2d``, and ``nn.ReLU``, ``nn.Sigmoid``, ``nn.Tanh``, ``nn.LeakyReLU``, ``nn.PReLU``,
``nn.Softmax`` right after a linear or conv layer (``nn.Identity`` is skipped; nested ``nn.Sequential`` are
flattened). ``input_shape`` is the suite's: ``(H, W, C)`` for images, ``(d,)`` or ``d`` for vectors.

Layouts: torch computes NCHW with OIHW conv weights; the suite NHWC with HWIO kernels, so each conv weight is
transposed. torch flattens (c, h, w); the suite (h, w, c), so the columns of the first linear layer after a
flatten of an image, and the vectors of a batch_norm between them, are permuted to the suite's order. Padding: 0 or "valid" is valid, and "same" or symmetric
padding is the suite's "same" only where TensorFlow's rule gives the same padding for this input; anything else
is refused. Options are carried over exactly: a LeakyReLU's slope, a BatchNorm's momentum and eps (the suite's
conventions are torch's). A PReLU with one shared α becomes one α per unit, all equal (the same outputs). Anything
else (dilation, groups, a missing bias, ceil_mode, other modules) is a :class:`~backprop.errors.SpecError` naming the
module and the option.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SpecError
from ..spec import same_padding
from .builder import Builder
from .layouts import suite_from_torch_order

ACTIVATIONS = {"ReLU": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softmax": "softmax"}


def from_torch(module: Any, input_shape: Any, loss: str | None = None, optimizer: Any = None) -> tuple:
    """``(spec, params)`` for a torch ``nn.Sequential``. ``loss`` defaults from the output activation (softmax:
    cross_entropy, sigmoid: binary_cross_entropy, else mse); given cross_entropy or binary_cross_entropy for a module
    that ends at logits, the output layer gets softmax or sigmoid (``predict`` then returns probabilities)."""
    from torch import nn

    if not isinstance(module, nn.Sequential):
        raise SpecError(f"module: expected a torch nn.Sequential, got {type(module).__name__}")
    shape = (int(input_shape),) if np.ndim(input_shape) == 0 else tuple(int(size) for size in input_shape)
    builder, flattened_image = Builder(shape), None
    for index, child in enumerate(_flattened(module)):
        where = f"{type(child).__name__} (module {index})"
        flattened_image = _convert(builder, child, where, flattened_image, nn)
    dtypes = {str(p.dtype) for p in module.parameters()}
    return builder.result("torch module", loss, optimizer, "float64" if dtypes == {"torch.float64"} else "float32")


def _flattened(module) -> list:
    from torch import nn

    children = []
    for child in module:
        children += _flattened(child) if isinstance(child, nn.Sequential) else [child]
    return children


def _array(tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def _require(where: str, module, expected: dict) -> None:
    for option, value in expected.items():
        actual = getattr(module, option)
        if actual not in (value if isinstance(value, list) else [value]):
            raise SpecError(f"{where}: option {option}={actual!r} is not supported (the suite needs {value!r})")


def _padding(where: str, padding, shape, window, strides) -> str:
    """torch's padding as the suite's: 0/"valid" is valid; "same" or a symmetric (ph, pw) is "same" when it is the
    padding TensorFlow's rule gives for this input."""
    if padding in ("valid", 0, (0, 0)):
        return "valid"
    if padding == "same":
        return "same"
    rows, cols = (padding, padding) if np.ndim(padding) == 0 else tuple(padding)
    tf_rows = same_padding(shape[0], window[0], strides[0])
    tf_cols = same_padding(shape[1], window[1], strides[1])
    if (rows, rows) == tf_rows and (cols, cols) == tf_cols:
        return "same"
    raise SpecError(f"{where}: padding={padding!r} is neither 'valid' nor TensorFlow's 'same' for a {shape[:2]} "
                    f"input (which pads {tf_rows} rows and {tf_cols} columns)")


def _pair(value) -> list[int]:
    return [int(value), int(value)] if np.ndim(value) == 0 else [int(v) for v in value]


def _convert(builder: Builder, child, where: str, flattened_image, nn):
    """Add ``child``; returns the (H, W, C) shape a flatten just turned into a vector, until a linear layer takes it."""
    if isinstance(child, nn.Linear):
        _require(where, child, {})
        if child.bias is None:
            raise SpecError(f"{where}: option bias=False is not supported (every suite layer has a bias)")
        W = _array(child.weight)
        if flattened_image is not None:
            W = W[:, suite_from_torch_order(flattened_image)]
        builder.add({"units": child.out_features}, {"W": W.T, "b": _array(child.bias)}, where)
        return None
    if isinstance(child, nn.Conv2d):
        _require(where, child, {"dilation": (1, 1), "groups": 1, "padding_mode": "zeros"})
        if child.bias is None:
            raise SpecError(f"{where}: option bias=False is not supported (every suite layer has a bias)")
        window, strides = list(child.kernel_size), list(child.stride)
        padding = _padding(where, child.padding, builder.shape, window, strides)
        builder.add({"type": "conv2d", "filters": child.out_channels, "kernel_size": window, "strides": strides,
                     "padding": padding}, {"W": _array(child.weight).transpose(2, 3, 1, 0),
                                           "b": _array(child.bias)}, where)
        return flattened_image
    if isinstance(child, (nn.MaxPool2d, nn.AvgPool2d)):
        _require(where, child, {"ceil_mode": False})
        if isinstance(child, nn.MaxPool2d):
            _require(where, child, {"dilation": [1, (1, 1)], "return_indices": False})
        else:
            _require(where, child, {"divisor_override": None})
        window = _pair(child.kernel_size)
        strides = _pair(child.stride if child.stride is not None else child.kernel_size)
        padding = _padding(where, child.padding, builder.shape, window, strides)
        if padding == "same" and isinstance(child, nn.AvgPool2d) and child.count_include_pad:
            raise SpecError(f"{where}: option count_include_pad=True is not supported with padding (the suite "
                            f"averages over real elements only)")
        builder.add({"type": "max_pool2d" if isinstance(child, nn.MaxPool2d) else "avg_pool2d",
                     "pool_size": window, "strides": strides, "padding": padding}, where=where)
        return flattened_image
    if isinstance(child, nn.Flatten):
        _require(where, child, {"start_dim": 1, "end_dim": -1})
        image = builder.shape if len(builder.shape) == 3 else None
        builder.add({"type": "flatten"}, where=where)
        return image
    if isinstance(child, nn.Dropout):
        builder.add({"type": "dropout", "rate": float(child.p)}, where=where)
        return flattened_image
    if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
        _require(where, child, {"affine": True, "track_running_stats": True})
        if child.momentum is None:
            raise SpecError(f"{where}: option momentum=None (a cumulative average) is not supported")
        order = slice(None) if flattened_image is None or isinstance(child, nn.BatchNorm2d) \
            else suite_from_torch_order(flattened_image)
        builder.add({"type": "batch_norm", "momentum": float(child.momentum), "eps": float(child.eps)},
                    {"gamma": _array(child.weight)[order], "beta": _array(child.bias)[order],
                     "running_mean": _array(child.running_mean)[order],
                     "running_var": _array(child.running_var)[order]}, where)
        return flattened_image
    name = type(child).__name__
    if name in ACTIVATIONS:
        if name == "Softmax" and child.dim not in (1, -1):
            raise SpecError(f"{where}: option dim={child.dim!r} is not supported (softmax over the units, dim 1)")
        builder.activation(ACTIVATIONS[name], where)
    elif isinstance(child, nn.LeakyReLU):
        builder.activation("leaky_relu", where, negative_slope=child.negative_slope)
    elif isinstance(child, nn.PReLU):
        builder.activation("prelu", where, alpha=_array(child.weight))
    elif not isinstance(child, nn.Identity):
        raise SpecError(f"{where}: the suite has no layer for torch's {name}")
    return flattened_image
