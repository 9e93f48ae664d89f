"""The dense layer: z = a @ W + b, then the activation, by the chain rule.

Forward, a (n, fan_in) → z, out (n, units):
    z = [a, 1] @ [W; b]          one GEMM with the bias, [a, 1] kept in the workspace with its column of ones
    out = f(z)
Backward, from g = dL/d(out) (n, units), turned in place into dL/dz = g ⊙ f'(z):
    d[W; b] = [a, 1]ᵀ @ dL/dz   dW = aᵀ g and db = Σ_n g in one GEMM
    dL/da = dL/dz @ Wᵀ           only when a previous layer needs it

Speed:
- the output of the previous layer is copied once into the strided slot [:, :-1] of the augmented input; an
  element-wise op writing into that slot would cost 2-3x a contiguous one;
- a linear layer's output is z itself; the output layer of a loss computed from logits leaves its activation to
  the loss (``folded``: the loss writes softmax(z) or sigmoid(z) and dL/dz directly);
- fused sgd: with plain sgd, a layer of at least :data:`FUSED_SGD_MIN_WEIGHTS` weights takes its update inside the
  weight-gradient GEMM (BLAS beta = 1): [W; b] ← [W; b] − lr·[a, 1]ᵀ dL/dz, so its large gradient is never written
  and read back. Backward then leaves that gradient out, and :meth:`Dense.fused_sgd_update` runs after the model
  has checked every gradient (here: [a, 1] and dL/dz) to be finite.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ..blas import Blas, scipy_gemm
from ..buffers import LayerViews

# Layers with at least this many weights fold the sgd update into their GEMM (below it, the separate
# whole-buffer update is cheaper than the extra BLAS call).
FUSED_SGD_MIN_WEIGHTS = 65_536


class Dense:
    def __init__(self, input_shape, output_shape, values: LayerViews, grads: LayerViews, activation, blas: Blas,
                 folded: bool, fused_sgd: bool):
        self.input_shape, self.output_shape = input_shape, output_shape
        self.values, self.grads, self.activation, self.blas = values, grads, activation, blas
        self.folded, self.fused_sgd = folded, fused_sgd
        self.weights_transposed = values.arrays["W"].T
        self.linear = type(activation).__name__ == "Linear" and not folded

    def workspace(self, n: int, training: bool, input_grad) -> SimpleNamespace:
        (fan_in,), (units,) = self.input_shape, self.output_shape
        dtype = self.values.augmented.dtype
        inputs = np.ones((n, fan_in + 1), dtype=dtype)
        z = np.empty((n, units), dtype=dtype)
        ws = SimpleNamespace(inputs=inputs, slot=inputs[:, :-1], inputs_transposed=inputs.T, z=z,
                             out=z if self.linear else np.empty_like(z),
                             activation=self.activation.buffers(z.shape, dtype, training))
        if training:
            ws.grad_out, ws.scratch = np.empty_like(z), np.empty_like(z)
        return ws

    def forward(self, x: np.ndarray, ws) -> np.ndarray:
        np.copyto(ws.slot, x)
        self.blas.gemm(ws.inputs, self.values.augmented, ws.z)
        if not self.folded:
            self.activation.forward(ws.z, ws.out, ws.activation)
        return ws.out

    def activate(self, ws) -> np.ndarray:
        """The folded output activation, for ``predict``: out = f(z)."""
        self.activation.forward(ws.z, ws.out, ws.activation)
        return ws.out

    def backward(self, ws, dx: np.ndarray | None, fuse: bool) -> None:
        grad = ws.grad_out
        if not self.folded:
            self.activation.backward(ws.z, ws.out, grad, ws.scratch, ws.activation)
        if dx is not None:
            self.blas.gemm(grad, self.weights_transposed, dx)
        if not (fuse and self.fused_sgd):
            self.blas.gemm(ws.inputs_transposed, grad, self.grads.augmented)

    def update_inputs(self, ws, fuse: bool) -> list[np.ndarray]:
        if fuse and self.fused_sgd:
            return [self.grads.rest, ws.inputs, ws.grad_out]
        return [self.grads.segment]

    def fused_sgd_update(self, ws, optimizer) -> None:
        """[W; b] ← (1 − lr·wd)·[W; b] − lr·[a, 1]ᵀ dL/dz in one GEMM (with the step's scheduled lr and the
        coupled weight decay wd), and the rest of the segment (a prelu alpha) with its stored gradient."""
        lr = optimizer.lr
        scipy_gemm(ws.inputs_transposed, ws.grad_out, self.values.augmented, alpha=-lr,
                   beta=1.0 - lr * optimizer.config.weight_decay)
        optimizer.segment(self.values.rest, self.grads.rest)
