"""Batch normalization per feature (a vector's units, an image's channels over N, H and W), by the chain rule.

The input is seen as rows × C (N rows for vectors, N·H·W for images), each column normalized on its own:

Training, over the m rows of the batch:
    μ = (1/m) Σ x          σ² = (1/m) Σ (x − μ)²  (biased)        x̂ = (x − μ)/√(σ² + eps)
    y = γ·x̂ + β
Backward, from g = dL/dy:
    dγ = Σ g·x̂             dβ = Σ g
    dL/dx = (γ/√(σ² + eps))·(g − dβ/m − x̂·dγ/m)
Running statistics, moved only when the step's update is applied (:meth:`BatchNorm.commit`):
    running_mean ← (1 − momentum)·running_mean + momentum·μ
    running_var  ← (1 − momentum)·running_var + momentum·σ²·m/(m − 1)   (the unbiased batch variance)
Inference: y = γ·(x − running_mean)/√(running_var + eps) + β.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from backprop.spec import BatchNormLayer

from ..activations import constant
from ..buffers import LayerViews


class BatchNorm:
    def __init__(self, spec: BatchNormLayer, input_shape, output_shape, values: LayerViews, grads: LayerViews,
                 state: dict[str, np.ndarray], dtype: np.dtype):
        self.input_shape, self.output_shape, self.dtype = input_shape, output_shape, dtype
        self.values, self.grads, self.state = values, grads, state
        self.momentum, self.keep = constant(spec.momentum, dtype), constant(1.0 - spec.momentum, dtype)
        self.eps = constant(spec.eps, dtype)

    def workspace(self, n: int, training: bool, input_grad) -> SimpleNamespace:
        out = np.empty((n, *self.output_shape), dtype=self.dtype)
        ws = SimpleNamespace(training=training, out=out, rows=out.reshape(-1, self.output_shape[-1]))
        if training:
            ws.grad_out, ws.normalized = np.empty_like(out), np.empty_like(ws.rows)
            ws.inverse_std = np.empty(self.output_shape[-1], dtype=self.dtype)
            ws.mean, ws.variance = np.empty_like(ws.inverse_std), np.empty_like(ws.inverse_std)
            ws.count = constant(ws.rows.shape[0], self.dtype)
        return ws

    def forward(self, x: np.ndarray, ws) -> np.ndarray:
        rows, out = x.reshape(ws.rows.shape), ws.rows
        gamma, beta = self.values.arrays["gamma"], self.values.arrays["beta"]
        if not ws.training:
            np.subtract(rows, self.state["running_mean"], out=out)
            out /= np.sqrt(self.state["running_var"] + self.eps)
        else:
            np.mean(rows, axis=0, out=ws.mean)
            np.subtract(rows, ws.mean, out=ws.normalized)
            np.multiply(ws.normalized, ws.normalized, out=out)
            np.mean(out, axis=0, out=ws.variance)
            np.add(ws.variance, self.eps, out=ws.inverse_std)
            np.sqrt(ws.inverse_std, out=ws.inverse_std)
            np.divide(1.0, ws.inverse_std, out=ws.inverse_std)
            ws.normalized *= ws.inverse_std
            np.copyto(out, ws.normalized)
        out *= gamma
        out += beta
        return ws.out

    def backward(self, ws, dx: np.ndarray | None, fuse: bool) -> None:
        grad = ws.grad_out.reshape(ws.rows.shape)
        d_gamma, d_beta = self.grads.arrays["gamma"], self.grads.arrays["beta"]
        np.sum(grad, axis=0, out=d_beta)
        np.multiply(grad, ws.normalized, out=ws.rows)
        np.sum(ws.rows, axis=0, out=d_gamma)
        if dx is None:
            return
        target = dx.reshape(ws.rows.shape)
        np.multiply(ws.normalized, d_gamma / ws.count, out=target)
        target += d_beta / ws.count
        np.subtract(grad, target, out=target)
        target *= self.values.arrays["gamma"] * ws.inverse_std

    def commit(self, ws) -> None:
        """Move the running statistics with the last training forward pass's batch statistics."""
        running_mean, running_var = self.state["running_mean"], self.state["running_var"]
        running_mean *= self.keep
        running_mean += self.momentum * ws.mean
        running_var *= self.keep
        running_var += self.momentum * ws.variance * (ws.count / (ws.count - 1))

    def update_inputs(self, ws, fuse: bool) -> list[np.ndarray]:
        return [self.grads.segment]
