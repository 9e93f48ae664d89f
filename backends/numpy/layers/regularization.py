"""Inverted dropout: a mask multiply in training, the identity in inference.

Training: out = x ⊙ m with m_i = 1/(1 − rate) where kept (probability 1 − rate) and 0 where dropped;
dL/dx = dL/dout ⊙ m. The mask is the suite's, drawn by the model from its seeded generator (one per dropout layer
per step, identical on every backend) and placed in the workspace before the step; with ``dropout_rng: "native"``
the layer draws its own from this backend's generator. Inference: out = x (a view; no copy).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np


class Dropout:
    values = grads = None

    def __init__(self, rate: float, input_shape, output_shape, dtype: np.dtype, rng: np.random.Generator | None):
        self.rate, self.input_shape, self.output_shape, self.dtype = rate, input_shape, output_shape, dtype
        self.rng = rng
        self.keep_scale = np.asarray(1.0 / (1.0 - rate), dtype=dtype)

    def workspace(self, n: int, training: bool, input_grad) -> SimpleNamespace:
        ws = SimpleNamespace(training=training, mask=None, out=None, grad_out=None)
        if training:
            ws.out = np.empty((n, *self.output_shape), dtype=self.dtype)
            ws.grad_out = np.empty_like(ws.out)
        return ws

    def draw(self, ws) -> None:
        """This backend's own mask (``dropout_rng: "native"``)."""
        keep = self.rng.random(ws.out.shape, dtype=np.float32) >= self.rate
        ws.mask = np.multiply(keep, self.keep_scale, dtype=self.dtype)

    def forward(self, x: np.ndarray, ws) -> np.ndarray:
        if not ws.training:
            return x
        if self.rng is not None:
            self.draw(ws)
        np.multiply(x, ws.mask, out=ws.out)
        return ws.out

    def backward(self, ws, dx: np.ndarray | None, fuse: bool) -> None:
        if dx is not None:
            np.multiply(ws.grad_out, ws.mask, out=dx)

    def update_inputs(self, ws, fuse: bool) -> list[np.ndarray]:
        return []
