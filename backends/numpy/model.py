"""The NumPy model: forward pass, backward pass by the chain rule, and the optimizer step.

Forward, layer l = 1..L with a_0 = X (N, fan_in):
    z_l = a_{l−1} @ W_l + b_l          W_l (fan_in, units), b_l (units,)
    a_l = f_l(z_l)
Backward, from g_L = dL/dz_L given by the loss (fused for softmax/sigmoid outputs):
    dL/dW_l = a_{l−1}ᵀ @ g_l           dL/db_l = Σ_n g_l
    g_{l−1} = f'_{l−1}(z_{l−1}) ⊙ (g_l @ W_lᵀ)
"""

from __future__ import annotations

import math

import numpy as np

from backprop.model import Model as BaseModel, Params

from .activations import PReLU, make_activation
from .losses import LOSSES
from .optimizers import make_optimizer


class Model(BaseModel):
    backend = "numpy"

    def _setup(self, params: Params) -> None:
        self.params = params
        self.activations = [make_activation(layer, p) for layer, p in zip(self.spec.layers, params)]
        self.loss = LOSSES[self.spec.loss]()
        self.optimizer = make_optimizer([p for layer in params for p in layer.values()], self.spec.optimizer)

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

    def _loss_and_grads(self, X: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
        zs, acts = self._forward(X)
        loss, grad = self.loss.value_and_grad(zs[-1], acts[-1], y)
        grads: Params = [{} for _ in self.params]
        for l in range(len(self.params) - 1, -1, -1):
            activation = self.activations[l]
            if l == len(self.params) - 1 and self.loss.fused:
                grad_z = grad
            else:
                grad_z = activation.backward(zs[l], acts[l + 1], grad)
            grads[l]["W"] = acts[l].T @ grad_z
            grads[l]["b"] = grad_z.sum(axis=0)
            if isinstance(activation, PReLU):
                grads[l]["alpha"] = activation.alpha_grad(zs[l], grad)
            if l > 0:
                grad = grad_z @ self.params[l]["W"].T
        return loss, grads

    def _train_step(self, X: np.ndarray, y: np.ndarray) -> float:
        loss, grads = self._loss_and_grads(X, y)
        if math.isfinite(loss):
            self.optimizer.step([g for layer in grads for g in layer.values()])
        return loss

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self._forward(X)[1][-1]
