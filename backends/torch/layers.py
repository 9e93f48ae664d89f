"""The spec's layers as ``torch.nn`` modules, with the layout and padding translations that make them compute the
suite's definitions (DESIGN.md section 6).

torch computes images as NCHW and stores conv weights as OIHW; the suite's data is NHWC and its kernels HWIO:

- input: the first module permutes an (N, H, W, C) batch to (N, C, H, W), a view of the same memory (what torch
  calls ``channels_last``, the faster layout for its CPU convolutions; the network's conv weights are converted to
  it too);
- conv2d: ``nn.Conv2d``; weight (filters, C_in, kh, kw) = W.transpose(3, 2, 0, 1). torch's own ``padding="same"``
  refuses strides > 1 and the symmetric padding it takes cannot place an odd total's extra row at the bottom, so
  "same" is TensorFlow's padding written out: symmetric padding inside ``nn.Conv2d``, else an ``nn.ZeroPad2d``
  with the exact (left, right, top, bottom) before it;
- max_pool2d: ``nn.MaxPool2d``, after an ``nn.ConstantPad2d`` of −∞ for "same"; its gradient goes to the first
  maximum of each window;
- avg_pool2d: ``nn.AvgPool2d``. "same" pads with zeros explicitly, and since torch then divides by kh·kw,
  :class:`RealElements` rescales each window to the mean of its real elements (``count_include_pad=False`` applies
  only to torch's own symmetric padding);
- flatten: :class:`FlattenHWC` permutes back to (N, H, W, C) before flattening, so the dense layer after it sees
  the suite's (h, w, c) order and takes the suite's weights as they are;
- dense: ``nn.Linear``; weight (units, fan_in) = Wᵀ;
- batch_norm: ``nn.BatchNorm1d`` on a vector (N, C), ``nn.BatchNorm2d`` on an image (per channel over N, H, W of the
  channels_last NCHW tensor), in the model dtype with the layer's ``momentum`` and ``eps``. torch's conventions are
  the spec's: training normalizes with the batch mean and biased variance, y = γ·(x − μ)/√(σ² + eps) + β, and moves
  running ← (1 − momentum)·running + momentum·batch with the unbiased (m − 1) variance; eval mode uses the running
  statistics. gamma, beta, running_mean and running_var are torch's ``weight``, ``bias``, ``running_mean``,
  ``running_var`` as they are, all (C,). torch's ``num_batches_tracked`` buffer only serves ``momentum=None`` (a
  cumulative average, which the spec never asks for): it is removed, so a training forward changes nothing but the
  two running statistics (torch's forward skips it when it is None);
- dropout: :class:`Dropout`, inverted dropout as a multiply by a given mask (see there).

:class:`Network` chains the modules and hands each dropout module its mask: ``network(x, masks)``.

Linear and conv layers are built with ``skip_init``: the suite's parameters are copied in afterwards, so torch's own
U(±1/√fan_in) init (and a draw from torch's global generator) is skipped.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import skip_init

from backprop.spec import (BatchNormLayer, Conv2DLayer, DenseLayer, DropoutLayer, FlattenLayer, Layer,
                           MaxPool2DLayer, NetworkSpec, conv_output_size, same_padding)

from .activations import make_activation

# Axes that turn each torch parameter into the suite's layout (and, inverted, back): by layer type and name.
TO_SUITE = {("dense", "W"): (1, 0), ("conv2d", "W"): (2, 3, 1, 0)}


class ToNCHW(nn.Module):
    """(N, H, W, C) → (N, C, H, W) as a view: an NHWC-contiguous batch becomes a channels_last NCHW tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 3, 1, 2)


class FlattenHWC(nn.Module):
    """(N, C, H, W) → (N, H·W·C) in (h, w, c) order (a view for a channels_last tensor)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1).flatten(1)


class RealElements(nn.Module):
    """Rescales a zero-padded ``nn.AvgPool2d`` (which divides every window by kh·kw) to the mean of each window's
    real elements: multiplies output (p, q) by kh·kw / n_pq."""

    def __init__(self, scale: torch.Tensor):
        super().__init__()
        self.register_buffer("scale", scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class Dropout(nn.Dropout):
    """torch's ``nn.Dropout`` module (its ``p``, its train/eval switch) applying a given mask: in training,
    out = x ⊙ m with m = 0 or 1/(1 − p) (a mask is required); in eval mode, out = x (the mask is ignored).

    The mask comes from outside because ``F.dropout`` (what ``nn.Dropout`` calls) draws from torch's global
    generator and takes no generator of its own. Masks are in the suite's layout (N, *input shape); an image mask
    (N, H, W, C) is permuted to the NCHW view of the activations (a channels_last view, no copy). :meth:`draw` makes
    a native mask with the ops ``F.dropout`` runs on the CPU (``bernoulli_(1 − p)`` on an empty tensor, then
    ``div_(1 − p)``), from a ``torch.Generator`` the model owns.
    """

    def __init__(self, rate: float, shape: tuple[int, ...]):
        super().__init__(rate)
        self.shape = shape

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if not self.training:
            return x
        return x * (mask.permute(0, 3, 1, 2) if mask.dim() == 4 else mask)

    def draw(self, n: int, dtype: torch.dtype, generator: torch.Generator) -> torch.Tensor:
        """A native mask for a batch of ``n``, in the suite's layout: each element 1/(1 − p) with probability
        1 − p, else 0."""
        keep = 1.0 - self.p
        return torch.empty((n, *self.shape), dtype=dtype).bernoulli_(keep, generator=generator).div_(keep)


class Network(nn.Module):
    """The modules in order; ``forward(x, masks)`` gives the k-th :class:`Dropout` module the k-th mask (the order of
    ``spec.dropout_layers``). ``masks`` may be None in eval mode, where dropout is the identity."""

    def __init__(self, modules: list[nn.Module]):
        super().__init__()
        self.stack = nn.ModuleList(modules)

    def forward(self, x: torch.Tensor, masks: list[torch.Tensor] | None = None) -> torch.Tensor:
        slot = 0
        for module in self.stack:
            if isinstance(module, Dropout):
                x = module(x, None if masks is None else masks[slot])
                slot += 1
            else:
                x = module(x)
        return x


def torch_modules(spec: NetworkSpec, dtype: torch.dtype) -> tuple[list[nn.Module], list[dict[str, torch.Tensor]],
                                                                  nn.Module | None]:
    """The modules of ``spec`` in order, each spec layer's parameters by the suite's names (batch_norm's running
    statistics included: buffers, not ``nn.Parameter``), and the output activation that a loss computed from logits
    leaves to ``predict``."""
    modules: list[nn.Module] = [ToNCHW()] if len(spec.input_shape) == 3 else []
    params, output_activation = [], None
    for index, (layer, shape) in enumerate(zip(spec.layers, spec.input_shapes)):
        main, owned = _modules(layer, shape, dtype)
        modules += main
        if hasattr(layer, "activation"):
            activation = make_activation(layer, dtype)
            if isinstance(activation, nn.PReLU):
                owned["alpha"] = activation.weight
            if index == len(spec.layers) - 1 and spec.loss_from_logits:
                output_activation = activation
            elif activation is not None:
                modules.append(activation)
        params.append(owned)
    return modules, params, output_activation


def _padding(shape, window, strides) -> tuple[int, int, int, int]:
    """TensorFlow's "same" padding as torch's (left, right, top, bottom)."""
    top, bottom = same_padding(shape[0], window[0], strides[0])
    left, right = same_padding(shape[1], window[1], strides[1])
    return left, right, top, bottom


def _modules(layer: Layer, shape, dtype: torch.dtype) -> tuple[list[nn.Module], dict[str, torch.Tensor]]:
    if isinstance(layer, DenseLayer):
        linear = skip_init(nn.Linear, shape[0], layer.units, dtype=dtype)
        return [linear], {"W": linear.weight, "b": linear.bias}
    if isinstance(layer, FlattenLayer):
        return [FlattenHWC()], {}
    if isinstance(layer, DropoutLayer):
        return [Dropout(layer.rate, shape)], {}
    if isinstance(layer, BatchNormLayer):
        norm = (nn.BatchNorm1d if len(shape) == 1 else nn.BatchNorm2d)(shape[-1], eps=layer.eps,
                                                                        momentum=layer.momentum, dtype=dtype)
        norm.register_buffer("num_batches_tracked", None)
        return [norm], {"gamma": norm.weight, "beta": norm.bias, "running_mean": norm.running_mean,
                        "running_var": norm.running_var}
    pads = _padding(shape, getattr(layer, "kernel_size", getattr(layer, "pool_size", None)), layer.strides) \
        if layer.padding == "same" else (0, 0, 0, 0)
    left, right, top, bottom = pads
    symmetric = left == right and top == bottom
    if isinstance(layer, Conv2DLayer):
        conv = skip_init(nn.Conv2d, shape[2], layer.filters, tuple(layer.kernel_size), stride=tuple(layer.strides),
                         padding=(top, left) if symmetric else 0, dtype=dtype)
        padding = [] if symmetric else [nn.ZeroPad2d(pads)]
        return [*padding, conv], {"W": conv.weight, "b": conv.bias}
    window, strides = tuple(layer.pool_size), tuple(layer.strides)
    if isinstance(layer, MaxPool2DLayer):
        padding = [nn.ConstantPad2d(pads, -math.inf)] if any(pads) else []
        return [*padding, nn.MaxPool2d(window, strides)], {}
    if not any(pads):
        return [nn.AvgPool2d(window, strides)], {}
    rows, cols = (conv_output_size(size, k, s, "same") for size, k, s in zip(shape, window, strides))
    real = nn.functional.avg_pool2d(nn.functional.pad(torch.ones(1, 1, *shape[:2], dtype=torch.float64), pads),
                                    window, strides) * math.prod(window)
    scale = (math.prod(window) / real).to(dtype).reshape(1, 1, rows, cols)
    return [nn.ZeroPad2d(pads), nn.AvgPool2d(window, strides), RealElements(scale)], {}
