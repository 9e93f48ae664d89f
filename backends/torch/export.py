"""``model.to_native()`` on the torch backend: an ordinary ``nn.Sequential`` in torch's usual layout, holding a copy
of the model's current parameters and running statistics, independent of the model.

It is the inverse of ``backprop.from_torch`` (which reads it back to the same spec and parameters where the
padding is symmetric) and takes the usual torch input: images (N, C, H, W), vectors (N, d).

- conv2d: ``nn.Conv2d`` with weight (filters, C_in, kh, kw) = W.transpose(3, 2, 0, 1), in torch's default
  contiguous layout. TensorFlow's "same" padding is torch's ``padding`` where it is symmetric, else an
  ``nn.ZeroPad2d`` before the conv; max pooling pads with −∞ (``nn.ConstantPad2d``), and a padded average pool keeps
  the suite's rescaling to the real elements (:class:`.layers.RealElements`), as the torch model does.
- flatten: ``nn.Flatten``, torch's (c, h, w) order; the columns of the dense layer after a flattened image (and the
  vectors of a batch_norm between them) are permuted from the suite's (h, w, c) order
  (:func:`backprop.convert.layouts.suite_from_torch_order`).
- dense: ``nn.Linear``, weight (units, fan_in) = Wᵀ.
- dropout: ``nn.Dropout(rate)``, drawing torch's own masks in training mode.
- batch_norm: ``nn.BatchNorm1d``/``nn.BatchNorm2d`` with the spec's momentum and eps (torch's conventions are the
  spec's) and its running statistics.
- the output activation comes last (``nn.Softmax(dim=1)``, ``nn.Sigmoid``), so the module in eval mode computes
  ``model.predict``; without its last module it gives the logits that ``nn.CrossEntropyLoss`` and
  ``nn.BCEWithLogitsLoss`` take.

The module is returned in eval mode (inference: running statistics, no dropout); ``module.train()`` switches it to
training.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from backprop.convert.layouts import suite_from_torch_order
from backprop.model import Params
from backprop.spec import BatchNormLayer, DenseLayer, FlattenLayer, NetworkSpec

from .layers import TO_SUITE, Dropout, FlattenHWC, ToNCHW, torch_modules


def native_module(spec: NetworkSpec, params: Params, dtype: torch.dtype) -> nn.Sequential:
    """``spec`` as a plain ``nn.Sequential`` with ``params`` (the suite's layout) copied in."""
    modules, owned, output_activation = torch_modules(spec, dtype)
    plain = [_plain(module) for module in modules if not isinstance(module, ToNCHW)]
    if output_activation is not None:
        plain.append(output_activation)
    flattened = None
    with torch.no_grad():
        for index, (layer, live, values) in enumerate(zip(spec.layers, owned, params)):
            if isinstance(layer, FlattenLayer) and len(spec.input_shapes[index]) == 3:
                flattened = spec.input_shapes[index]
            for key, tensor in live.items():
                tensor.copy_(torch.from_numpy(_torch_layout(layer, key, values[key], flattened)))
            if isinstance(layer, DenseLayer):
                flattened = None
    return nn.Sequential(*plain).eval()


def _plain(module: nn.Module) -> nn.Module:
    """The usual torch module for one of the model's: ``nn.Flatten`` for the (h, w, c) flatten, ``nn.Dropout`` for
    the mask-taking dropout, and batch norm with its ``num_batches_tracked`` buffer back (torch's state_dict has it)."""
    if isinstance(module, FlattenHWC):
        return nn.Flatten()
    if isinstance(module, Dropout):
        return nn.Dropout(module.p)
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        module.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
    return module


def _torch_layout(layer, key: str, value: np.ndarray, flattened: tuple[int, int, int] | None) -> np.ndarray:
    """One parameter in torch's layout: transposed weights, and features after a flattened image in (c, h, w)."""
    axes = TO_SUITE.get((layer.type, key))
    if flattened is not None and (isinstance(layer, DenseLayer) and key == "W" or isinstance(layer, BatchNormLayer)):
        value = value[np.argsort(suite_from_torch_order(flattened))]
    return np.ascontiguousarray(value.transpose(np.argsort(axes)) if axes else value)
