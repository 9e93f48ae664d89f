"""Flatten: (n, H, W, C) → (n, H·W·C), element (h, w, c) going to column (h·W + w)·C + c.

This is a reshape of a C-contiguous array, so it copies nothing: forward returns a view of its input, and its
gradient buffer is a view of the previous layer's, so dL/d(input) = dL/d(output) reshaped is already in place
when backward is called.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np


class Flatten:
    values = grads = None

    def __init__(self, input_shape, output_shape):
        self.input_shape, self.output_shape = input_shape, output_shape

    def workspace(self, n: int, training: bool, input_grad) -> SimpleNamespace:
        return SimpleNamespace(out=None, grad_out=None if input_grad is None else input_grad.reshape(n, -1))

    def forward(self, x: np.ndarray, ws) -> np.ndarray:
        ws.out = x.reshape(x.shape[0], -1)
        return ws.out

    def backward(self, ws, dx: np.ndarray | None, fuse: bool) -> None:
        pass

    def update_inputs(self, ws, fuse: bool) -> list[np.ndarray]:
        return []
