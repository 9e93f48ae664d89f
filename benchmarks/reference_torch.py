"""The torch minimal loops (see :mod:`benchmarks.reference_loops`): ``nn.Sequential``, a ``torch.nn`` loss and
``torch.optim``, as torch's tutorials write a training step::

    optimizer.zero_grad()
    loss = loss_fn(net(X), y)
    loss.backward()
    optimizer.step()

``fused`` picks the optimizer implementation (``fused=True``, as the suite's torch backend, or torch's default);
``compiled`` runs the network through ``torch.compile(net)`` as torch's ``torch.compile`` tutorial does.
"""

from __future__ import annotations

import numpy as np

from .reference_loops import ReferenceLoop, hidden_activation


def build(spec, dtype: np.dtype, params: list, *, fused: bool, compiled: bool = False) -> ReferenceLoop:
    import torch
    from torch import nn

    tdtype = getattr(torch, dtype.name)
    modules: list[nn.Module] = []
    for index, (layer, p) in enumerate(zip(spec.layers, params)):
        linear = nn.Linear(*p["W"].shape, dtype=tdtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(p["W"].T.copy()))
            linear.bias.copy_(torch.from_numpy(p["b"]))
        modules.append(linear)
        activation = hidden_activation(spec, index)
        if activation == "prelu":
            prelu = nn.PReLU(layer.units, dtype=tdtype)
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
        with torch.no_grad():
            return net(X).numpy()

    return ReferenceLoop(torch.from_numpy, train_step, logits, spec, dtype)
