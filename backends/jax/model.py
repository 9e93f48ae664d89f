"""The JAX model: a pure forward function of a parameter pytree, ``jax.value_and_grad`` and an optax update.

The pytree is the suite's layout itself, a list with one dict per layer (``{"W", "b"[, "alpha"]}``, or empty), so
reading and writing parameters needs no transposes. Forward, a_0 = X: a_l = layer_l(a_{l−1}) with the layer
functions of :mod:`.layers`, the last activation the identity when the loss is computed from logits
(softmax/sigmoid are then applied by predict).

Mode "jit": one ``jax.jit`` of the whole train step (forward, gradient, optax update, finite guard), with the
parameters and optimizer state passed in, donated, and returned; ``value_and_grad`` and inference are jitted too.
Donation lets XLA update the parameter and state buffers in place (the guard is a ``lax.cond``, whose skip branch
returns its operands, so nothing is copied): a step then times like an unguarded idiomatic loop.

float64 needs JAX's ``jax_enable_x64`` flag, which is process-global. A float64 model never sets it globally: each of
its calls into JAX (building, converting, tracing, running) runs inside ``jax.enable_x64(True)``, a context that
holds for that call only, so the user's own ``jnp.ones(2)`` stays float32 and a float64 model still runs in float64
inside a caller's ``jax.enable_x64(False)``. A float32 model leaves the flag as the caller has it: every array is
created with an explicit dtype and every constant is a weak-typed Python float, so it stays float32 either way.

Inference (``predict`` and ``evaluate``'s loss) pads each batch with zero rows up to the next power of two and
masks them out, so any number of batch sizes costs at most one compilation per power of two.
"""

from __future__ import annotations

import contextlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from backprop.model import Model as BaseModel, Params

from .activations import linear, sigmoid, softmax
from .layers import layer_functions
from .losses import mean_loss, weighted_mean_loss
from .optimizers import make_optimizer, update_if_finite

# Applied by predict after the logits when the loss is computed from logits.
OUTPUT_ACTIVATIONS = {"cross_entropy": softmax, "binary_cross_entropy": sigmoid}


def make_forward(spec):
    """``forward(params, X) -> output`` (N, k): logits when ``spec.loss_from_logits``, else the last activation."""
    functions = layer_functions(spec)

    def forward(params, X):
        a = X
        for layer_params, function in zip(params, functions):
            a = function(layer_params, a)
        return a

    return forward


def bucket(n: int) -> int:
    """The padded batch size for ``n`` inference rows: the next power of two."""
    return 1 << max(0, n - 1).bit_length()


class Model(BaseModel):
    backend = "jax"

    def __init__(self, spec, dtype: str, seed: int, mode: str) -> None:
        self._precision = _float64_scope if np.dtype(dtype) == np.float64 else contextlib.nullcontext
        with self._precision():
            super().__init__(spec, dtype, seed, mode)

    def _setup(self, params: Params) -> None:
        forward = make_forward(self.spec)
        loss = mean_loss(self.spec.loss)
        weighted_loss = weighted_mean_loss(self.spec.loss)
        output_activation = OUTPUT_ACTIVATIONS.get(self.spec.loss, linear)
        self._optimizer = make_optimizer(self.spec.optimizer)
        value_and_grad = jax.value_and_grad(lambda params, X, y: loss(forward(params, X), y))

        def train_step(params, state, X, y):
            value, grads = value_and_grad(params, X, y)
            return update_if_finite(self._optimizer, value, grads, state, params)

        self._value_and_grad = jax.jit(value_and_grad)
        self._train_step_fn = jax.jit(train_step, donate_argnums=(0, 1))
        self._predict_fn = jax.jit(lambda params, X: output_activation(forward(params, X), None))
        self._loss_fn = jax.jit(lambda params, X, y, w: weighted_loss(forward(params, X), y, w))
        self._params = self._to_device(params)
        self._opt_state = self._optimizer.init(self._params)

    def _to_device(self, params: Params) -> list[dict[str, jax.Array]]:
        """Fresh device copies of NumPy ``params`` in the model dtype."""
        return [{key: jnp.array(value, dtype=self.dtype) for key, value in layer.items()} for layer in params]

    def _read_params(self) -> Params:
        return [{key: np.asarray(value) for key, value in layer.items()} for layer in self._params]

    def _write_params(self, params: Params) -> None:
        with self._precision():
            self._params = self._to_device(params)

    def to_native(self, array: np.ndarray) -> jax.Array:
        with self._precision():
            return jnp.array(array, dtype=self.dtype)

    def _snapshot(self) -> dict:
        copied = jax.tree_util.tree_map(lambda leaf: np.array(leaf, copy=True), (self._params, self._opt_state))
        return {"params": copied[0], "opt_state": copied[1]}

    def _restore(self, snapshot: dict) -> None:
        with self._precision():
            self._params = self._to_device(snapshot["params"])
            self._opt_state = jax.tree_util.tree_map(lambda leaf: jnp.array(leaf, dtype=leaf.dtype),
                                                     snapshot["opt_state"])

    def _loss_and_grads(self, X: jax.Array, y: jax.Array, masks) -> tuple[float, Params]:
        with self._precision():
            return jax.device_get(self._value_and_grad(self._params, X, y))

    def _train_step(self, X: jax.Array, y: jax.Array, masks) -> jax.Array:
        with self._precision():
            self._params, self._opt_state, loss = self._train_step_fn(self._params, self._opt_state, X, y)
        return loss

    def _padded(self, array: jax.Array) -> jax.Array:
        """``array`` with zero rows appended up to :func:`bucket` of its row count."""
        extra = bucket(array.shape[0]) - array.shape[0]
        return jnp.pad(array, ((0, extra), *[(0, 0)] * (array.ndim - 1))) if extra else array

    def _predict(self, X: jax.Array) -> np.ndarray:
        with self._precision():
            return np.asarray(self._predict_fn(self._params, self._padded(X)))[:X.shape[0]]

    def _loss(self, X: jax.Array, y: jax.Array) -> float:
        with self._precision():
            weights = self._padded(jnp.ones((X.shape[0], 1), dtype=self.dtype))[:, 0]
            return float(self._loss_fn(self._params, self._padded(X), self._padded(y), weights))


def _float64_scope() -> Any:
    """The context a float64 model runs each JAX call in: ``jax_enable_x64`` on for this thread, for this call."""
    return jax.enable_x64(True)
