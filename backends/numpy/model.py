"""The NumPy model: forward pass, backward pass by the chain rule, and the optimizer step.

Forward, layer l = 1..L with a_0 = X (N, fan_in):
    z_l = a_{l−1} @ W_l + b_l          W_l (fan_in, units), b_l (units,)
    a_l = f_l(z_l)
Backward, from g_L = dL/dz_L given by the loss (fused for softmax/sigmoid outputs):
    dL/dW_l = a_{l−1}ᵀ @ g_l           dL/db_l = Σ_n g_l
    g_{l−1} = f'_{l−1}(z_{l−1}) ⊙ (g_l @ W_lᵀ)

Speed (see reports/performance.md): all parameters live in one flat array and all gradients in another, each
layer's W, b, alpha being views into them, so an optimizer update is a few whole-buffer NumPy calls whatever the
depth. With plain sgd, large layers fold the update into the weight-gradient GEMM (BLAS ``beta = 1``):
W ← W − lr·a_{l−1}ᵀ @ g_l, so their gradient is never stored.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import blas

from backprop.model import Model as BaseModel, Params

from .activations import PReLU, make_activation
from .losses import LOSSES
from .optimizers import SGD, make_optimizer

# Layers with at least this many weights fold the sgd update into their GEMM (below it, the separate
# whole-buffer update is cheaper than the extra BLAS call).
FUSED_SGD_MIN_WEIGHTS = 65_536


class ParameterBuffers:
    """One flat array for the parameters and one for the gradients, with per-layer ``{"W", "b"[, "alpha"]}``
    views into each, in the suite's layout (W is a C-contiguous (fan_in, units) view)."""

    def __init__(self, shapes: list[dict[str, tuple[int, ...]]], dtype: np.dtype):
        sizes = [math.prod(shape) for layer in shapes for shape in layer.values()]
        self.flat_values = np.zeros(sum(sizes), dtype=dtype)
        self.flat_grads = np.zeros(sum(sizes), dtype=dtype)
        self.values, self.grads = self._views(self.flat_values, shapes), self._views(self.flat_grads, shapes)

    @staticmethod
    def _views(flat: np.ndarray, shapes: list[dict[str, tuple[int, ...]]]) -> Params:
        views, offset = [], 0
        for layer in shapes:
            entry = {}
            for key, shape in layer.items():
                size = math.prod(shape)
                entry[key] = flat[offset:offset + size].reshape(shape)
                offset += size
            views.append(entry)
        return views


class Model(BaseModel):
    backend = "numpy"

    def _setup(self, params: Params) -> None:
        self.buffers = ParameterBuffers(self.spec.param_shapes(), self.dtype)
        self.params, self.grads = self.buffers.values, self.buffers.grads
        self._write_params(params)
        self.activations = [make_activation(layer, p) for layer, p in zip(self.spec.layers, self.params)]
        self.loss = LOSSES[self.spec.loss]()
        self.optimizer = make_optimizer(self.buffers.flat_values, self.spec.optimizer)
        fusable = isinstance(self.optimizer, SGD)
        self.fused_sgd = [fusable and p["W"].size >= FUSED_SGD_MIN_WEIGHTS for p in self.params]
        self.gemm = blas.sgemm if self.dtype == np.float32 else blas.dgemm

    def _read_params(self) -> Params:
        return self.params

    def _write_params(self, params: Params) -> None:
        for live, new in zip(self.params, params):
            for key, value in new.items():
                live[key][...] = value

    def to_native(self, array: np.ndarray) -> np.ndarray:
        return array

    def _forward(self, X: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Pre-activations ``zs`` and activations ``acts`` (acts[0] is X) of every layer."""
        zs, acts = [], [X]
        for layer, activation in zip(self.params, self.activations):
            z = acts[-1] @ layer["W"]
            z += layer["b"]
            zs.append(z)
            acts.append(activation.forward(z))
        return zs, acts

    def _backward(self, X: np.ndarray, y: np.ndarray, sgd_lr: float | None = None) -> float:
        """Forward, loss, then the chain rule from the output down, writing every gradient into ``self.grads``.

        With ``sgd_lr`` (and a finite loss) each layer also takes its sgd step as soon as its gradient is known,
        after g @ Wᵀ has used the old W; layers marked in ``self.fused_sgd`` do W ← W − lr·aᵀg inside the GEMM.
        """
        zs, acts = self._forward(X)
        loss, grad = self.loss.value_and_grad(zs[-1], acts[-1], y)
        update = sgd_lr is not None and math.isfinite(loss)
        last = len(self.params) - 1
        for l in range(last, -1, -1):
            activation, params, grads = self.activations[l], self.params[l], self.grads[l]
            grad_z = grad if l == last and self.loss.fused else activation.backward(zs[l], acts[l + 1], grad)
            if isinstance(activation, PReLU):
                grads["alpha"][...] = activation.alpha_grad(zs[l], grad)
            np.sum(grad_z, axis=0, out=grads["b"])
            if l > 0:
                grad = grad_z @ params["W"].T
            if update and self.fused_sgd[l]:
                self.gemm(-sgd_lr, grad_z.T, acts[l].T, beta=1.0, c=params["W"].T, trans_b=True, overwrite_c=True)
            else:
                np.matmul(acts[l].T, grad_z, out=grads["W"])
                if update:
                    params["W"] -= sgd_lr * grads["W"]
            if update:
                for key in ("b", "alpha") if "alpha" in params else ("b",):
                    params[key] -= sgd_lr * grads[key]
        return loss

    def _loss_and_grads(self, X: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
        loss = self._backward(X, y)
        return loss, [{key: value.copy() for key, value in layer.items()} for layer in self.grads]

    def _train_step(self, X: np.ndarray, y: np.ndarray) -> float:
        if any(self.fused_sgd):
            return self._backward(X, y, sgd_lr=self.optimizer.lr)
        loss = self._backward(X, y)
        if math.isfinite(loss):
            self.optimizer.step(self.buffers.flat_grads)
        return loss

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self._forward(X)[1][-1]
