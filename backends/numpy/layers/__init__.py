"""The NumPy backend's layers: a network is a chain of these objects, one module per layer family.

Every layer has:

- ``input_shape`` and ``output_shape``, per sample;
- ``values`` and ``grads``: its :class:`~backends.numpy.buffers.LayerViews` into the model's flat parameter and
  gradient buffers (None for a layer without parameters);
- ``workspace(n, training, input_grad)``: the buffers of one batch size, allocated once. ``out`` holds the output;
  a training workspace also has ``grad_out``, where the next layer (or the loss) writes dL/d(output), and whatever
  backward needs. ``input_grad`` is the previous layer's ``grad_out`` (None for the first layer): the buffer this
  layer's backward writes dL/d(input) into, which a reshaping layer can alias instead;
- ``forward(x, ws) -> out``: x is (n, *input_shape); it caches in ``ws`` what backward needs;
- ``backward(ws, dx, fuse)``: from ``ws.grad_out``, the parameter gradients into ``grads`` and, when ``dx`` is given,
  dL/d(input) into it. With ``fuse``, a dense layer marked ``fused_sgd`` leaves out its [W; b] gradient, which its
  sgd update takes inside the GEMM instead (:mod:`.dense`);
- ``update_inputs(ws, fuse)``: the arrays that must be finite for the layer's part of the update to be finite;
- optionally ``commit(ws)``: what a layer with state (batch_norm's running statistics) does once the step's update
  has been applied.

The layer's math and shapes are in each module's docstrings: dense (:mod:`.dense`), conv2d (:mod:`.conv`), the
poolings (:mod:`.pooling`), flatten (:mod:`.reshaping`), dropout (:mod:`.regularization`) and batch_norm
(:mod:`.normalization`).
"""

from __future__ import annotations

import numpy as np

from backprop.spec import (AvgPool2DLayer, BatchNormLayer, Conv2DLayer, DenseLayer, DropoutLayer, FlattenLayer,
                           MaxPool2DLayer, NetworkSpec)

from ..activations import make_activation
from ..blas import Blas, RowSum
from ..buffers import ParameterBuffers
from .conv import Conv2D
from .dense import Dense
from .normalization import BatchNorm
from .pooling import AvgPool2D, MaxPool2D
from .regularization import Dropout
from .reshaping import Flatten


def make_layers(spec: NetworkSpec, buffers: ParameterBuffers, blas: Blas, row_sum: RowSum, dtype: np.dtype,
                fused_sgd: list[bool], dropout_rng: np.random.Generator | None) -> list:
    """The layer objects of ``spec``, bound to their views of ``buffers``. The output layer of a loss computed from
    logits leaves its activation to the loss (``folded``). Dropout layers draw their own masks from
    ``dropout_rng`` when one is given (``dropout_rng: "native"``), else they get the suite's."""
    layers = []
    last = len(spec.layers) - 1
    for index, (layer, shape, out_shape) in enumerate(zip(spec.layers, spec.input_shapes, spec.shapes)):
        values, grads = buffers.values[index], buffers.grads[index]
        if isinstance(layer, (DenseLayer, Conv2DLayer)):
            activation = make_activation(layer, values.arrays, grads.arrays, dtype, row_sum)
            folded = index == last and spec.loss_from_logits
            if isinstance(layer, DenseLayer):
                layers.append(Dense(shape, out_shape, values, grads, activation, blas, folded, fused_sgd[index]))
            else:
                layers.append(Conv2D(layer, shape, out_shape, values, grads, activation, blas))
        elif isinstance(layer, MaxPool2DLayer):
            layers.append(MaxPool2D(layer, shape, out_shape, dtype))
        elif isinstance(layer, AvgPool2DLayer):
            layers.append(AvgPool2D(layer, shape, out_shape, dtype))
        elif isinstance(layer, FlattenLayer):
            layers.append(Flatten(shape, out_shape))
        elif isinstance(layer, DropoutLayer):
            layers.append(Dropout(layer.rate, shape, out_shape, dtype, dropout_rng))
        elif isinstance(layer, BatchNormLayer):
            layers.append(BatchNorm(layer, shape, out_shape, values, grads, buffers.state[index], dtype))
        else:
            raise TypeError(f"the NumPy backend has no layer for {type(layer).__name__}")
    return layers
