"""The torch minimal loops (see :mod:`benchmarks.reference_loops`): ``nn.Sequential``, a ``torch.nn`` loss and
``torch.optim``, as torch's tutorials write a training step::

    optimizer.zero_grad()
    loss = loss_fn(net(X), y)
    loss.backward()
    optimizer.step()

``fused`` picks the optimizer implementation (``fused=True``, as the suite's torch backend, or torch's default);
``compiled`` runs the network through ``torch.compile(net)`` as torch's ``torch.compile`` tutorial does.

Images are NCHW, as in torch's tutorials: the suite's conv kernel (kh, kw, C_in, C_out) becomes ``Conv2d.weight``
(C_out, C_in, kh, kw), "same" padding is ``Conv2d(padding=…)`` when it is symmetric and ``nn.ZeroPad2d`` before the
convolution when it is not, and the dense layer after a flatten gets its weight rows reordered from the suite's
(h, w, c) order to torch's (c, h, w). Dropout is ``nn.Dropout``: the network trains in ``train()`` mode and
``logits`` switches to ``eval()`` for its forward.
"""

from __future__ import annotations

import numpy as np

from .reference_loops import ReferenceLoop, hidden_activation, layer_type, padding_of


def nchw(X: np.ndarray) -> np.ndarray:
    return X.transpose(0, 3, 1, 2) if X.ndim == 4 else X


def build(spec, dtype: np.dtype, params: list, *, fused: bool, compiled: bool = False) -> ReferenceLoop:
    import torch
    from torch import nn

    tdtype = getattr(torch, dtype.name)
    modules: list[nn.Module] = []
    flattened = None
    for index, (layer, p, shape) in enumerate(zip(spec.layers, params, spec.input_shapes)):
        kind = layer_type(layer)
        if kind == "flatten":
            modules.append(nn.Flatten())
            flattened = shape
            continue
        if kind == "dropout":
            modules.append(nn.Dropout(layer.rate))
            continue
        if kind.endswith("pool2d"):
            pool = nn.MaxPool2d if kind == "max_pool2d" else nn.AvgPool2d
            modules.append(pool(layer.pool_size, layer.strides))
            continue
        if kind == "conv2d":
            (top, bottom), (left, right) = padding_of(layer, shape)
            symmetric = top == bottom and left == right
            if not symmetric:
                modules.append(nn.ZeroPad2d((left, right, top, bottom)))
            module = nn.Conv2d(shape[2], layer.filters, layer.kernel_size, layer.strides,
                               padding=(top, left) if symmetric else 0, dtype=tdtype)
            weight = p["W"].transpose(3, 2, 0, 1)
        else:
            W = p["W"]
            if flattened is not None:
                W = W.reshape(*flattened, -1).transpose(2, 0, 1, 3).reshape(W.shape)
                flattened = None
            module = nn.Linear(*W.shape, dtype=tdtype)
            weight = W.T
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
            module.bias.copy_(torch.from_numpy(p["b"]))
        modules.append(module)
        activation = hidden_activation(spec, index)
        if activation == "prelu":
            prelu = nn.PReLU(p["alpha"].shape[0], dtype=tdtype)
            with torch.no_grad():
                prelu.weight.copy_(torch.from_numpy(p["alpha"]))
            modules.append(prelu)
        elif activation != "linear":
            modules.append({"relu": nn.ReLU(), "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(),
                            "leaky_relu": nn.LeakyReLU(layer.negative_slope)}[activation])
    net = nn.Sequential(*modules)
    loss_fn = {"mse": nn.MSELoss(), "cross_entropy": nn.CrossEntropyLoss(),
               "binary_cross_entropy": nn.BCEWithLogitsLoss()}[spec.loss]
    o = spec.optimizer
    implementation = {"fused": True} if fused else {}
    optimizer = (torch.optim.Adam(net.parameters(), lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps, **implementation)
                 if o.name == "adam" else
                 torch.optim.SGD(net.parameters(), lr=o.lr, momentum=o.momentum if o.name == "momentum" else 0.0,
                                 nesterov=o.nesterov and o.name == "momentum", **implementation))
    forward = torch.compile(net) if compiled else net

    def train_step(X, y):
        optimizer.zero_grad()
        loss = loss_fn(forward(X), y)
        loss.backward()
        optimizer.step()
        return loss.detach()

    def logits(X):
        net.eval()
        try:
            with torch.no_grad():
                return net(X).numpy()
        finally:
            net.train()

    return ReferenceLoop(torch.from_numpy, train_step, logits, spec, dtype, layout=nchw)
