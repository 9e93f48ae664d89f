"""Max and average pooling over (kh, kw) windows with strides (sh, sw), per channel, by the chain rule.

Shapes: input a (n, H, W, C) → out (n, H', W', C). Both read the window offsets (i, j) one at a time as strided
views of the (padded) input, so each pass is one element-wise operation over the whole batch, whatever the
window overlap.

Max pooling:
    out[p, q, c] = max_{i, j} pad(a)[p·sh + i, q·sw + j, c]       "same" padding pads with −∞
    dL/da: each window's gradient goes wholly to its first maximum in row-major (i, j) order; a forward pass in
    training records that offset per output (``argmax``), and backward adds g where argmax = (i, j), offset by
    offset, into the (padded) input gradient.
Average pooling:
    out[p, q, c] = (1/n_pq) Σ_{i, j} pad(a)[p·sh + i, q·sw + j, c]  n_pq = the window's real (unpadded) elements
    dL/da: g/n_pq added back to every real element of the window (the padded ones are cut away).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from backprop.spec import Pool2DLayer

from ..windows import Geometry, count_real


class Pool2D:
    """What both poolings share: the window geometry, the padded input and the scatter of window gradients."""

    values = grads = None
    PAD_VALUE = 0.0

    def __init__(self, spec: Pool2DLayer, input_shape, output_shape, dtype: np.dtype):
        self.input_shape, self.output_shape, self.dtype = input_shape, output_shape, dtype
        self.geometry = Geometry.of(input_shape, spec.pool_size, spec.strides, spec.padding)
        kh, kw = spec.pool_size
        self.offsets = [(i, j) for i in range(kh) for j in range(kw)]

    def workspace(self, n: int, training: bool, input_grad) -> SimpleNamespace:
        g, dtype = self.geometry, self.dtype
        out = np.empty((n, *self.output_shape), dtype=dtype)
        ws = SimpleNamespace(out=out, training=training,
                             padded=np.full((n, *g.padded_shape), self.PAD_VALUE, dtype=dtype) if g.padded else None)
        if training:
            ws.grad_out, ws.scratch = np.empty_like(out), np.empty_like(out)
            ws.padded_grad = np.empty((n, *g.padded_shape), dtype=dtype) if g.padded else None
        return ws

    def _scatter(self, ws, dx: np.ndarray, add_offset) -> None:
        """dL/da: zero the (padded) input gradient, let ``add_offset(view, k)`` add each offset's share into its
        strided view, then cut the padding away."""
        target = ws.padded_grad if ws.padded_grad is not None else dx
        target[...] = 0
        for k, (i, j) in enumerate(self.offsets):
            add_offset(self.geometry.offset(target, i, j), k)
        if ws.padded_grad is not None:
            dx[...] = self.geometry.interior(ws.padded_grad)

    def update_inputs(self, ws, fuse: bool) -> list[np.ndarray]:
        return []


class MaxPool2D(Pool2D):
    PAD_VALUE = -np.inf

    def workspace(self, n: int, training: bool, input_grad) -> SimpleNamespace:
        ws = super().workspace(n, training, input_grad)
        if training:
            ws.argmax = np.empty(ws.out.shape, dtype=np.int16)
            ws.mask = np.empty(ws.out.shape, dtype=bool)
        return ws

    def forward(self, x: np.ndarray, ws) -> np.ndarray:
        source, out = self.geometry.source(x, ws.padded), ws.out
        np.copyto(out, self.geometry.offset(source, 0, 0))
        if ws.training:
            ws.argmax[...] = 0
        for k, (i, j) in enumerate(self.offsets[1:], start=1):
            candidate = self.geometry.offset(source, i, j)
            if ws.training:
                np.greater(candidate, out, out=ws.mask)
                np.copyto(out, candidate, where=ws.mask)
                np.copyto(ws.argmax, k, where=ws.mask)
            else:
                np.maximum(out, candidate, out=out)
        return out

    def backward(self, ws, dx: np.ndarray | None, fuse: bool) -> None:
        if dx is None:
            return

        def add_offset(view: np.ndarray, k: int) -> None:
            np.equal(ws.argmax, k, out=ws.mask)
            np.multiply(ws.grad_out, ws.mask, out=ws.scratch)
            view += ws.scratch

        self._scatter(ws, dx, add_offset)


class AvgPool2D(Pool2D):
    def __init__(self, spec: Pool2DLayer, input_shape, output_shape, dtype: np.dtype):
        super().__init__(spec, input_shape, output_shape, dtype)
        self.inverse_counts = (1.0 / count_real(self.geometry)).astype(dtype)

    def forward(self, x: np.ndarray, ws) -> np.ndarray:
        source, out = self.geometry.source(x, ws.padded), ws.out
        np.copyto(out, self.geometry.offset(source, 0, 0))
        for i, j in self.offsets[1:]:
            out += self.geometry.offset(source, i, j)
        out *= self.inverse_counts
        return out

    def backward(self, ws, dx: np.ndarray | None, fuse: bool) -> None:
        if dx is None:
            return
        np.multiply(ws.grad_out, self.inverse_counts, out=ws.scratch)

        def add_offset(view: np.ndarray, k: int) -> None:
            view += ws.scratch

        self._scatter(ws, dx, add_offset)
