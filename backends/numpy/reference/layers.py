"""The layers, textbook style: ``forward`` caches what ``backward`` needs; ``backward`` takes dL/d(output), stores the
parameter gradients in ``self.grads`` and returns dL/d(input). Dense and conv2d layers also keep δ = dL/dz
(``dz``), the error signal that ``python -m backprop explain`` shows.

Every layer works on a whole batch (samples are rows; images are NHWC). The math of each is in its docstring; the
definitions are DESIGN.md's (sections 2, 6 and 7).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from backprop.spec import same_padding

from . import activations


class Dense:
    """z = a @ W + b;  out = f(z)

    dL/dz = f'(z) ⊙ dL/dout;   dL/dW = aᵀ dL/dz;   dL/db = Σ_n dL/dz;   dL/da = dL/dz Wᵀ
    """

    def __init__(self, spec, params: dict):
        self.spec, self.params, self.grads = spec, params, {}

    def forward(self, a, training, mask=None):
        self.a = a
        self.z = a @ self.params["W"] + self.params["b"]
        self.out = activation(self, self.z)
        return self.out

    def backward(self, grad):
        self.dz = dz = activation_backward(self, grad)
        self.grads["W"] = self.a.T @ dz
        self.grads["b"] = dz.sum(axis=0)
        return dz @ self.params["W"].T


class Conv2D:
    """z[n, p, q, f] = Σ_{i, j, c} pad(a)[n, p·sh + i, q·sw + j, c] · W[i, j, c, f] + b[f];  out = f(z)

    With the windows of the padded input, patch[n, p, q, c, i, j]:
    dL/dz = f'(z) ⊙ dL/dout;   dL/dW[i, j, c, f] = Σ_{n, p, q} patch · dL/dz;   dL/db = Σ_{n, p, q} dL/dz;
    dL/da: every window position (i, j) sends dL/dz @ W[i, j]ᵀ back to the input rows and columns it read.
    """

    def __init__(self, spec, params: dict):
        self.spec, self.params, self.grads = spec, params, {}

    def forward(self, a, training, mask=None):
        self.shape = a.shape
        self.padded = pad(a, self.spec, self.spec.kernel_size, 0.0)
        self.patches = windows(self.padded, self.spec.kernel_size, self.spec.strides)
        self.z = np.einsum("nhwcij,ijcf->nhwf", self.patches, self.params["W"]) + self.params["b"]
        self.out = activation(self, self.z)
        return self.out

    def backward(self, grad):
        self.dz = dz = activation_backward(self, grad)
        self.grads["W"] = np.einsum("nhwcij,nhwf->ijcf", self.patches, dz)
        self.grads["b"] = dz.sum(axis=(0, 1, 2))
        d_padded = np.zeros_like(self.padded)
        (kh, kw), W = self.spec.kernel_size, self.params["W"]
        for i in range(kh):
            for j in range(kw):
                at_offset(d_padded, i, j, self.spec.strides, dz.shape)[...] += dz @ W[i, j].T
        return unpad(d_padded, self.shape, self.spec, self.spec.kernel_size)


class MaxPool2D:
    """out[n, p, q, c] = max_{i, j} pad(a)[n, p·sh + i, q·sw + j, c]   ("same" pads with −∞)

    dL/da: each window's dL/dout goes to its first maximum in row-major (i, j) order.
    """

    def __init__(self, spec, params: dict):
        self.spec, self.params, self.grads = spec, params, {}

    def forward(self, a, training, mask=None):
        self.shape = a.shape
        self.padded = pad(a, self.spec, self.spec.pool_size, -np.inf)
        window = windows(self.padded, self.spec.pool_size, self.spec.strides)
        self.first_max = window.reshape(*window.shape[:4], -1).argmax(axis=-1)
        return window.max(axis=(4, 5))

    def backward(self, grad):
        d_padded = np.zeros_like(self.padded)
        kh, kw = self.spec.pool_size
        for i in range(kh):
            for j in range(kw):
                at_offset(d_padded, i, j, self.spec.strides, grad.shape)[...] += grad * (self.first_max == i * kw + j)
        return unpad(d_padded, self.shape, self.spec, self.spec.pool_size)


class AvgPool2D:
    """out[n, p, q, c] = (1/n_pq) Σ_{i, j} pad(a)[n, p·sh + i, q·sw + j, c], n_pq the window's real elements

    dL/da: each window's dL/dout / n_pq goes to each of its real elements.
    """

    def __init__(self, spec, params: dict):
        self.spec, self.params, self.grads = spec, params, {}

    def forward(self, a, training, mask=None):
        self.shape = a.shape
        ones = pad(np.ones((1, *a.shape[1:3], 1), dtype=a.dtype), self.spec, self.spec.pool_size, 0.0)
        self.counts = windows(ones, self.spec.pool_size, self.spec.strides).sum(axis=(4, 5))
        self.padded = pad(a, self.spec, self.spec.pool_size, 0.0)
        return windows(self.padded, self.spec.pool_size, self.spec.strides).sum(axis=(4, 5)) / self.counts

    def backward(self, grad):
        d_padded = np.zeros_like(self.padded)
        kh, kw = self.spec.pool_size
        for i in range(kh):
            for j in range(kw):
                at_offset(d_padded, i, j, self.spec.strides, grad.shape)[...] += grad / self.counts
        return unpad(d_padded, self.shape, self.spec, self.spec.pool_size)


class Flatten:
    """(n, H, W, C) → (n, H·W·C) in (h, w, c) order; dL/da is dL/dout reshaped back."""

    def __init__(self, spec, params: dict):
        self.spec, self.params, self.grads = spec, params, {}

    def forward(self, a, training, mask=None):
        self.shape = a.shape
        return a.reshape(a.shape[0], -1)

    def backward(self, grad):
        return grad.reshape(self.shape)


class Dropout:
    """Training: out = a ⊙ m, m = 1/(1 − rate) where kept and 0 where dropped; inference: out = a.   dL/da = dL/dout ⊙ m"""

    def __init__(self, spec, params: dict):
        self.spec, self.params, self.grads = spec, params, {}

    def forward(self, a, training, mask=None):
        self.mask = mask if training else None
        return a if self.mask is None else a * self.mask

    def backward(self, grad):
        return grad if self.mask is None else grad * self.mask


class BatchNorm:
    """Per feature (the last axis; over N, or N·H·W for images):
    training: x̂ = (a − μ)/√(σ² + eps) with the batch's mean μ and biased variance σ²; out = γ·x̂ + β.
    inference: the same with the running mean and variance.

    dL/dγ = Σ dL/dout·x̂;   dL/dβ = Σ dL/dout;   dL/da = γ/√(σ² + eps) · (dL/dout − dL/dβ/m − x̂·dL/dγ/m), m rows
    After an applied update the model calls :meth:`commit`: running ← (1 − momentum)·running + momentum·batch, the
    running variance from the unbiased batch variance σ²·m/(m − 1).
    """

    def __init__(self, spec, params: dict):
        self.spec, self.params, self.grads = spec, params, {}

    def forward(self, a, training, mask=None):
        rows = a.reshape(-1, a.shape[-1])
        if training:
            self.mean, self.variance = rows.mean(axis=0), rows.var(axis=0)
        else:
            self.mean, self.variance = self.params["running_mean"], self.params["running_var"]
        self.std = np.sqrt(self.variance + self.spec.eps)
        self.normalized = (rows - self.mean) / self.std
        return (self.params["gamma"] * self.normalized + self.params["beta"]).reshape(a.shape)

    def backward(self, grad):
        rows, m = grad.reshape(self.normalized.shape), self.normalized.shape[0]
        self.grads["gamma"] = (rows * self.normalized).sum(axis=0)
        self.grads["beta"] = rows.sum(axis=0)
        d_rows = self.params["gamma"] / self.std * (rows - self.grads["beta"] / m
                                                    - self.normalized * self.grads["gamma"] / m)
        return d_rows.reshape(grad.shape)

    def commit(self):
        m, momentum = self.normalized.shape[0], self.spec.momentum
        self.params["running_mean"] = (1 - momentum) * self.params["running_mean"] + momentum * self.mean
        self.params["running_var"] = ((1 - momentum) * self.params["running_var"]
                                      + momentum * self.variance * m / (m - 1))


def activation(layer, z):
    spec = layer.spec
    return activations.forward(spec.activation, z, spec.negative_slope, layer.params.get("alpha"))


def activation_backward(layer, grad):
    """dL/dz from dL/dout; a prelu layer also stores dL/dα. The output layer of a loss computed from logits gets
    dL/dz itself (its activation is folded into the loss)."""
    spec = layer.spec
    if getattr(layer, "folded", False):
        return grad
    if spec.activation == "prelu":
        layer.grads["alpha"] = activations.prelu_alpha_gradient(layer.z, grad)
    return activations.backward(spec.activation, layer.z, layer.out, grad, spec.negative_slope,
                                layer.params.get("alpha"))


def pad(a, spec, window, value):
    rows, cols = padding_for(a, spec, window)
    return np.pad(a, ((0, 0), rows, cols, (0, 0)), constant_values=value)


def padding_for(a, spec, window):
    if spec.padding == "valid":
        return (0, 0), (0, 0)
    return (same_padding(a.shape[1], window[0], spec.strides[0]),
            same_padding(a.shape[2], window[1], spec.strides[1]))


def unpad(d_padded, shape, spec, window):
    """dL/da: the gradient of the padded input without its padding."""
    (top, _), (left, _) = padding_for(np.empty(shape), spec, window)
    return d_padded[:, top:top + shape[1], left:left + shape[2]]


def windows(padded, window, strides):
    """Every window of the padded input, (n, H', W', C, kh, kw)."""
    view = sliding_window_view(padded, tuple(window), axis=(1, 2))
    return view[:, ::strides[0], ::strides[1]]


def at_offset(d_padded, i, j, strides, shape):
    """The positions of the padded input that window offset (i, j) reads, for an (n, H', W', ·) output."""
    return d_padded[:, i:i + strides[0] * (shape[1] - 1) + 1:strides[0], j:j + strides[1] * (shape[2] - 1) + 1:strides[1]]


LAYERS = {"dense": Dense, "conv2d": Conv2D, "max_pool2d": MaxPool2D, "avg_pool2d": AvgPool2D, "flatten": Flatten,
          "dropout": Dropout, "batch_norm": BatchNorm}
