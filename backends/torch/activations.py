"""The spec's activations as ``torch.nn`` modules (DESIGN.md section 2), each mapping (N, units) to (N, units).

Every framework default that differs from the spec is overridden here, explicitly:

- leaky_relu: ``nn.LeakyReLU(negative_slope=s)`` with the layer's s (torch's default 0.01 happens to be the suite's,
  but it is never relied on).
- prelu: ``nn.PReLU(num_parameters=units)``, one learnable α per unit; the model loads the suite's α (0.25 unless
  the spec says otherwise) into its ``weight`` right after building, so torch's own init value never survives.
- relu: ``nn.ReLU``, whose derivative at z = 0 is 0 (torch's threshold backward passes the gradient only where z > 0).
- sigmoid: ``nn.Sigmoid`` is the stable form; z = ±1000 gives exactly 0 or 1.
- softmax: ``nn.Softmax(dim=1)`` over the units of each row. It and a sigmoid output are applied only by
  ``predict`` when the loss is computed from logits (see :mod:`.losses`).

``make_activation`` returns ``None`` for linear, so the network carries no identity modules.
"""

from __future__ import annotations

import torch
from torch import nn

from backprop.spec import Activated

_PLAIN = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


def make_activation(layer: Activated, dtype: torch.dtype) -> nn.Module | None:
    """The activation module for ``layer`` in ``dtype``, or ``None`` for linear (a = z). A prelu has one alpha per
    unit of a dense layer, per channel (dimension 1 of NCHW) of a conv layer."""
    name = layer.activation
    if name == "linear":
        return None
    if name == "leaky_relu":
        return nn.LeakyReLU(negative_slope=layer.negative_slope)
    if name == "prelu":
        return nn.PReLU(num_parameters=getattr(layer, "units", getattr(layer, "filters", 1)), init=layer.alpha_init,
                        dtype=dtype)
    if name == "softmax":
        return nn.Softmax(dim=1)
    return _PLAIN[name]()
