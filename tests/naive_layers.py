"""Loop-by-loop forward passes of the spec's layers, written from the definitions in DESIGN.md section 6 and
nothing else: an independent check of the NumPy backend's strided, chunked, GEMM-based layers."""

from __future__ import annotations

import math

import numpy as np


def pads(size: int, window: int, stride: int, padding: str) -> tuple[int, int, int]:
    """(output size, padding before, padding after) of one side, TensorFlow's "same" rule spelled out."""
    if padding == "valid":
        return (size - window) // stride + 1, 0, 0
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + window - size, 0)
    return out, total // 2, total - total // 2


def windows(x: np.ndarray, window, strides, padding):
    """Yield (p, q, rows, cols) for every output position: the input rows and columns of its window that exist."""
    (h, w), (kh, kw), (sh, sw) = x.shape[1:3], window, strides
    oh, top, _ = pads(h, kh, sh, padding)
    ow, left, _ = pads(w, kw, sw, padding)
    for p in range(oh):
        for q in range(ow):
            rows = [r for r in range(p * sh - top, p * sh - top + kh)]
            cols = [c for c in range(q * sw - left, q * sw - left + kw)]
            yield p, q, rows, cols, (oh, ow)


def conv2d(x, W, b, strides, padding):
    """z[n, p, q, f] = Σ_{i, j, c} x_padded[n, p·sh + i, q·sw + j, c] · W[i, j, c, f] + b[f] (zero padding)."""
    out = None
    for p, q, rows, cols, (oh, ow) in windows(x, W.shape[:2], strides, padding):
        if out is None:
            out = np.zeros((x.shape[0], oh, ow, W.shape[3]))
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                if 0 <= r < x.shape[1] and 0 <= c < x.shape[2]:
                    out[:, p, q] += x[:, r, c] @ W[i, j]
        out[:, p, q] += b
    return out


def pool2d(x, kind, window, strides, padding):
    """max: the largest real element of each window; avg: the mean of the real (unpadded) elements."""
    out = None
    for p, q, rows, cols, (oh, ow) in windows(x, window, strides, padding):
        if out is None:
            out = np.zeros((x.shape[0], oh, ow, x.shape[3]))
        real = [x[:, r, c] for r in rows for c in cols if 0 <= r < x.shape[1] and 0 <= c < x.shape[2]]
        out[:, p, q] = np.max(real, axis=0) if kind == "max" else np.mean(real, axis=0)
    return out


ACTIVATIONS = {"linear": lambda z, layer, p: z, "relu": lambda z, layer, p: np.maximum(z, 0),
               "tanh": lambda z, layer, p: np.tanh(z), "sigmoid": lambda z, layer, p: 1 / (1 + np.exp(-z)),
               "leaky_relu": lambda z, layer, p: np.where(z > 0, z, layer.negative_slope * z),
               "prelu": lambda z, layer, p: np.where(z > 0, z, p["alpha"] * z),
               "softmax": lambda z, layer, p: np.exp(z - z.max(1, keepdims=True))
               / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)}


def forward(spec, params, X) -> list[np.ndarray]:
    """Every layer's output for the batch X in inference mode (dropout the identity, batch_norm with its running
    statistics), in float64, layer by layer from the definitions."""
    outputs, a = [], np.asarray(X, dtype=np.float64)
    for layer, p in zip(spec.layers, params):
        if layer.type == "dense":
            a = ACTIVATIONS[layer.activation](a @ p["W"] + p["b"], layer, p)
        elif layer.type == "conv2d":
            a = ACTIVATIONS[layer.activation](conv2d(a, p["W"], p["b"], layer.strides, layer.padding), layer, p)
        elif layer.type == "flatten":
            a = a.reshape(a.shape[0], -1)
        elif layer.type == "dropout":
            pass
        elif layer.type == "batch_norm":
            a = (a - p["running_mean"]) / np.sqrt(p["running_var"] + layer.eps) * p["gamma"] + p["beta"]
        else:
            a = pool2d(a, layer.type[:3], layer.pool_size, layer.strides, layer.padding)
        outputs.append(a)
    return outputs
