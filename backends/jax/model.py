"""The JAX model: a pure forward function of a parameter pytree, ``jax.value_and_grad`` and an optax update.

The pytree is the suite's layout itself, a list with one ``{"W": (fan_in, units), "b": (units,)[, "alpha":
(units,)]}`` dict per layer, so reading and writing parameters needs no transposes. Forward, a_0 = X (N, fan_in):
    z_l = a_{l−1} @ W_l + b_l;   a_l = f_l(z_l)
with the last f the identity when the loss is computed from logits (softmax/sigmoid are then applied by predict).

Mode "jit": one ``jax.jit`` of the whole train step (forward, gradient, optax update, finite-loss guard), with the
parameters and optimizer state passed in, donated, and returned; ``value_and_grad`` and predict are jitted too.
Donation lets XLA update the parameter and state buffers in place (the guard is a ``lax.cond``, whose skip branch
returns its operands, so nothing is copied): a step then times like an unguarded idiomatic loop.

float64 needs ``jax_enable_x64``, a process-global flag. It is switched on when the first JAX model is built, for
every dtype, so a float32 model computes the same way whatever was built before it; every array is created with
an explicit dtype and every constant is a weak-typed Python float, so float32 models stay float32 under it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from backprop.model import Model as BaseModel, Params

from .activations import linear, make_activation, sigmoid, softmax
from .losses import LOSSES
from .optimizers import make_optimizer, update_if_finite

# Applied by predict after the logits when the loss is computed from logits.
OUTPUT_ACTIVATIONS = {"cross_entropy": softmax, "binary_cross_entropy": sigmoid}


def enable_float64() -> None:
    """Turn on ``jax_enable_x64`` (idempotent); without it JAX silently truncates float64 to float32."""
    if not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)


def make_forward(spec):
    """``forward(params, X) -> output`` (N, k): logits when ``spec.loss_from_logits``, else the last activation."""
    activations = [make_activation(layer) for layer in spec.layers]
    if spec.loss_from_logits:
        activations[-1] = linear

    def forward(params, X):
        a = X
        for layer_params, activation in zip(params, activations):
            a = activation(a @ layer_params["W"] + layer_params["b"], layer_params)
        return a

    return forward


class Model(BaseModel):
    backend = "jax"

    def _setup(self, params: Params) -> None:
        enable_float64()
        forward = make_forward(self.spec)
        loss = LOSSES[self.spec.loss]
        output_activation = OUTPUT_ACTIVATIONS.get(self.spec.loss, linear)
        optimizer = make_optimizer(self.spec.optimizer)
        value_and_grad = jax.value_and_grad(lambda params, X, y: loss(forward(params, X), y))

        def train_step(params, state, X, y):
            value, grads = value_and_grad(params, X, y)
            params, state = update_if_finite(optimizer, value, grads, state, params)
            return params, state, value

        self._value_and_grad = jax.jit(value_and_grad)
        self._train_step_fn = jax.jit(train_step, donate_argnums=(0, 1))
        self._predict_fn = jax.jit(lambda params, X: output_activation(forward(params, X), None))
        self._params = self._to_device(params)
        self._opt_state = optimizer.init(self._params)

    def _to_device(self, params: Params) -> list[dict[str, jax.Array]]:
        """Fresh device copies of NumPy ``params`` in the model dtype."""
        return [{key: jnp.array(value, dtype=self.dtype) for key, value in layer.items()} for layer in params]

    def _read_params(self) -> Params:
        return [{key: np.asarray(value) for key, value in layer.items()} for layer in self._params]

    def _write_params(self, params: Params) -> None:
        self._params = self._to_device(params)

    def to_native(self, array: np.ndarray) -> jax.Array:
        return jnp.array(array, dtype=self.dtype)

    def _loss_and_grads(self, X: jax.Array, y: jax.Array) -> tuple[float, Params]:
        return jax.device_get(self._value_and_grad(self._params, X, y))

    def _train_step(self, X: jax.Array, y: jax.Array) -> jax.Array:
        self._params, self._opt_state, loss = self._train_step_fn(self._params, self._opt_state, X, y)
        return loss

    def _predict(self, X: jax.Array) -> np.ndarray:
        return np.asarray(self._predict_fn(self._params, X))
