"""The conv2d layer: a cross-correlation as "a dense layer on patches", by the chain rule.

Shapes: input a (n, H, W, C); W (kh, kw, C, F) stored as the augmented matrix [W; b] of shape (K + 1, F) with
K = kh·kw·C, rows in (i, j, c) order; output z, out (n, H', W', F).

Forward, for every output position (p, q) of every sample:
    z[p, q] = Σ_{i, j, c} pad(a)[p·sh + i, q·sw + j, c] · W[i, j, c] + b = [patch(p, q), 1] @ [W; b]
    out = f(z)
so with the patches of a chunk of positions as the rows of a column matrix (im2col), z of the chunk is one GEMM.
Backward, from g = dL/d(out), turned in place into δ = dL/dz = g ⊙ f'(z):
    d[W; b] = Σ_chunks [patches, 1]ᵀ @ δ        one GEMM per chunk, accumulated
    dL/dpatches = δ @ Wᵀ                        (rows, K), one GEMM per chunk
    dL/da = col2im(dL/dpatches): every patch element added back to the input position it came from (kh·kw strided
            adds per chunk), then the padding cut away
The input gradient is left out when no earlier layer has parameters.

Speed: the columns of all positions at once would be (n·H'·W', K + 1), 118 MB for a 3×3 conv of 50 channels on a
batch of 64 32×32 images. They are built chunk by chunk (:func:`..windows.chunk_plan`) in one workspace buffer of
about :data:`COLUMN_BUDGET_BYTES`, which stays in cache while its GEMM reads it, and rebuilt in backward rather than
kept. Each chunk's im2col is one copy from a strided view of every window; "same" padding copies the input once into
a zero-bordered buffer of the workspace.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from backprop.spec import Conv2DLayer

from ..blas import Blas
from ..buffers import LayerViews
from ..windows import Geometry, chunk_plan, largest, samples

# Bytes of im2col columns per chunk: large enough for an efficient GEMM, small enough to stay in cache.
COLUMN_BUDGET_BYTES = 1 << 20


class Conv2D:
    def __init__(self, spec: Conv2DLayer, input_shape, output_shape, values: LayerViews, grads: LayerViews,
                 activation, blas: Blas):
        self.input_shape, self.output_shape = input_shape, output_shape
        self.values, self.grads, self.activation, self.blas = values, grads, activation, blas
        self.geometry = Geometry.of(input_shape, spec.kernel_size, spec.strides, spec.padding)
        self.kernel_t = values.augmented[:-1].T
        self.linear = type(activation).__name__ == "Linear"

    def workspace(self, n: int, training: bool, input_grad) -> SimpleNamespace:
        g, dtype = self.geometry, self.values.augmented.dtype
        rows = g.window[0] * g.window[1] * g.channels
        units = self.output_shape[-1]
        chunks = chunk_plan(n, g.out_height, g.out_width, (rows + 1) * dtype.itemsize, COLUMN_BUDGET_BYTES)
        columns = np.ones((largest(chunks), rows + 1), dtype=dtype)
        z = np.empty((n, *self.output_shape), dtype=dtype)
        z_rows = z.reshape(-1, units)
        ws = SimpleNamespace(chunks=chunks, columns=columns, z=z, z_rows=z_rows,
                             out=z if self.linear else np.empty_like(z),
                             padded=np.zeros((n, *g.padded_shape), dtype=dtype) if g.padded else None,
                             activation=self.activation.buffers(z_rows.shape, dtype, training))
        if training:
            ws.grad_out, ws.scratch = np.empty_like(z), np.empty_like(z)
            ws.weight_scratch = np.empty_like(self.values.augmented)
            ws.patch_grads = ws.padded_grad = None
            if input_grad is not None:
                ws.patch_grads = np.empty((largest(chunks), rows), dtype=dtype)
                ws.padded_grad = np.empty((n, *g.padded_shape), dtype=dtype) if g.padded else None
        return ws

    def _columns(self, source: np.ndarray, chunk, ws) -> np.ndarray:
        """im2col of one chunk into the workspace's columns: (chunk.size, K + 1), the last column ones."""
        columns = ws.columns[:chunk.size]
        g = self.geometry
        view = columns[:, :-1].reshape(samples(chunk), chunk.rows.stop - chunk.rows.start, g.out_width,
                                       *g.window, g.channels)
        np.copyto(view, g.windows(source[chunk.samples], chunk.rows.start, view.shape[1]))
        return columns

    def forward(self, x: np.ndarray, ws) -> np.ndarray:
        ws.source = source = self.geometry.source(x, ws.padded)
        z_rows, augmented = ws.z_rows, self.values.augmented
        start = 0
        for chunk in ws.chunks:
            self.blas.gemm(self._columns(source, chunk, ws), augmented, z_rows[start:start + chunk.size])
            start += chunk.size
        units = self.output_shape[-1]
        self.activation.forward(z_rows, ws.out.reshape(-1, units), ws.activation)
        return ws.out

    def backward(self, ws, dx: np.ndarray | None, fuse: bool) -> None:
        units = self.output_shape[-1]
        delta = ws.grad_out.reshape(-1, units)
        self.activation.backward(ws.z_rows, ws.out.reshape(-1, units), delta, ws.scratch.reshape(-1, units),
                                 ws.activation)
        grad_target = None
        if dx is not None:
            grad_target = ws.padded_grad if ws.padded_grad is not None else dx
            grad_target[...] = 0
        start = 0
        for index, chunk in enumerate(ws.chunks):
            rows = delta[start:start + chunk.size]
            columns = self._columns(ws.source, chunk, ws)
            if index == 0:
                self.blas.gemm(columns.T, rows, self.grads.augmented)
            else:
                self.blas.gemm_accumulate(columns.T, rows, self.grads.augmented, ws.weight_scratch)
            if dx is not None:
                self._col2im(rows, chunk, grad_target, ws)
            start += chunk.size
        if ws.padded_grad is not None and dx is not None:
            dx[...] = self.geometry.interior(ws.padded_grad)

    def _col2im(self, delta_rows: np.ndarray, chunk, target: np.ndarray, ws) -> None:
        """dL/dpatches = δ @ Wᵀ for one chunk, each patch element added back to its (padded) input position."""
        g = self.geometry
        patch_grads = ws.patch_grads[:chunk.size]
        self.blas.gemm(delta_rows, self.kernel_t, patch_grads)
        kh, kw = g.window
        patches = patch_grads.reshape(samples(chunk), chunk.rows.stop - chunk.rows.start, g.out_width, kh, kw,
                                      g.channels)
        region = target[chunk.samples]
        for i in range(kh):
            for j in range(kw):
                g.offset(region, i, j, chunk.rows)[...] += patches[:, :, :, i, j]

    def update_inputs(self, ws, fuse: bool) -> list[np.ndarray]:
        return [self.grads.segment]
