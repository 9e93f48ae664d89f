"""The JAX model: a pure forward function of two pytrees, ``jax.value_and_grad`` and an optax update.

Two pytrees, each a list with one dict per layer aligned with ``spec.layers``:

- the trainable parameters (``{"W", "b"[, "alpha"]}``, batch_norm's ``{"gamma", "beta"}``, else ``{}``): what
  ``value_and_grad`` differentiates and optax updates, so gradients, optimizer slots and weight decay never see a
  running statistic;
- the state (batch_norm's ``{"running_mean", "running_var"}``, else ``{}``): read by inference, moved by training.

``get_params`` merges the two per layer into the suite's layout (:meth:`NetworkSpec.param_shapes`), with no
transposes. Forward, a_0 = X: (a_l, state_l) = layer_l(params_l, state_l, a_{l−1}) with the layer functions of
:mod:`.layers`, the last activation the identity when the loss is computed from logits (softmax/sigmoid are then
applied by predict). Training mode normalizes with batch statistics and applies dropout masks; inference
(``predict``, ``evaluate``) uses the running statistics and no dropout.

Dropout masks are the suite's by default (:meth:`backprop.model.Model._masks`, passed in as arrays, one per dropout
layer). With ``dropout_rng: "native"`` they are drawn inside the traced step from a PRNG key derived from the model
seed (:func:`native_key`): the step takes the key, splits it and returns the next one, so there is no host round
trip and no global state. Like the suite's generator, the key moves on every training call (``loss_and_grads``
too, and a rejected step), and it is part of the snapshot.

Mode "jit": one ``jax.jit`` of the whole train step (masks, forward, gradient, optax update, running statistics,
finite guard), with the parameters, optimizer state, state and key passed in, donated, and returned;
``loss_and_grads`` and inference are jitted too. Donation lets XLA update the buffers in place (the guard is a
``lax.cond``, whose skip branch returns its operands, so nothing is copied): a step then times like an unguarded
idiomatic loop. The running statistics move inside the guard's apply branch only, and ``loss_and_grads`` drops them.

float64 needs JAX's ``jax_enable_x64`` flag, which is process-global. A float64 model never sets it globally: each of
its calls into JAX (building, converting, tracing, running) runs inside ``jax.enable_x64(True)``, a context that
holds for that call only, so the user's own ``jnp.ones(2)`` stays float32 and a float64 model still runs in float64
inside a caller's ``jax.enable_x64(False)``. A float32 model leaves the flag as the caller has it: every array is
created with an explicit dtype and every constant is a weak-typed Python float, so it stays float32 either way.

Inference (``predict`` and ``evaluate``'s loss) pads each batch with zero rows up to the next power of two and
masks them out, so any number of batch sizes costs at most one compilation per power of two. Inference batch_norm
works row by row from the running statistics, so the padded rows change nothing.
"""

from __future__ import annotations

import contextlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from backprop.model import MASK_STREAM, Model as BaseModel, Params

from .activations import linear, sigmoid, softmax
from .layers import layer_functions, native_masks
from .losses import batch_loss, weighted_batch_loss
from .optimizers import make_optimizer, read_state, update_if_finite, write_state

# Applied by predict after the logits when the loss is computed from logits.
OUTPUT_ACTIVATIONS = {"cross_entropy": softmax, "binary_cross_entropy": sigmoid}


def make_forward(spec):
    """``forward(params, state, X, training=False, masks=None) -> (output, state)``: the (N, k) output (logits when
    ``spec.loss_from_logits``, else the last activation) and the state the pass moved to (the same state in
    inference). ``masks`` holds one dropout mask per ``spec.dropout_layers`` entry, used in training only."""
    functions, dropouts = layer_functions(spec), spec.dropout_layers

    def forward(params, state, X, training=False, masks=None):
        layer_masks = dict(zip(dropouts, masks)) if masks else {}
        a, moved = X, []
        for index, (layer_params, layer_state, function) in enumerate(zip(params, state, functions)):
            a, layer_state = function(layer_params, layer_state, a, training, layer_masks.get(index))
            moved.append(layer_state)
        return a, moved

    return forward


def native_key(seed: int) -> jax.Array:
    """The native dropout key of a model seed: two 32-bit words of ``SeedSequence((seed, MASK_STREAM))`` (the
    suite's mask stream), folded into a raw PRNG key. ``jax.random.PRNGKey(seed)`` itself keeps only the low 32
    bits of a seed without ``jax_enable_x64`` (2**40 and 0 would share a key); every seed ≥ 0 is valid here."""
    words = np.random.SeedSequence((seed, MASK_STREAM)).generate_state(2, np.uint32)
    return jax.random.fold_in(jax.random.PRNGKey(int(words[0])), int(words[1]))


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
        spec = self.spec
        forward = make_forward(spec)
        loss, weighted_loss = batch_loss(spec), weighted_batch_loss(spec)
        output_activation = OUTPUT_ACTIVATIONS.get(spec.loss, linear)
        optimizer = make_optimizer(spec.optimizer)
        self._trainable = [set(shapes) for shapes in spec.trainable_shapes()]

        def training_loss(params, state, X, y, masks):
            output, moved = forward(params, state, X, True, masks)
            return loss(output, y), moved

        value_and_grad = jax.value_and_grad(training_loss, has_aux=True)

        def drawn(key, X, masks):
            """(next key, masks): the suite's ``masks`` as given, or this backend's own drawn from ``key``."""
            return (key, masks) if key is None else native_masks(spec, key, X.shape[0], X.dtype)

        def loss_and_grads(params, state, key, X, y, masks):
            key, masks = drawn(key, X, masks)
            (value, _), grads = value_and_grad(params, state, X, y, masks)
            return value, grads, key

        def train_step(params, opt_state, state, key, X, y, masks):
            key, masks = drawn(key, X, masks)
            (value, moved), grads = value_and_grad(params, state, X, y, masks)
            params, opt_state, state, value = update_if_finite(optimizer, value, grads, params, opt_state, state,
                                                               moved)
            return params, opt_state, state, key, value

        self._loss_and_grads_fn = jax.jit(loss_and_grads)
        self._train_step_fn = jax.jit(train_step, donate_argnums=(0, 1, 2, 3))
        self._predict_fn = jax.jit(lambda params, state, X: output_activation(forward(params, state, X)[0], None))
        self._loss_fn = jax.jit(lambda params, state, X, y, w: weighted_loss(forward(params, state, X)[0], y, w))
        self._params, self._state = self._split(params)
        self._opt_state = optimizer.init(self._params)
        self._key = native_key(self.seed) if spec.dropout_rng == "native" and spec.dropout_layers else None

    def _to_device(self, params: Params) -> list[dict[str, jax.Array]]:
        """Fresh device copies of NumPy ``params`` in the model dtype."""
        return [{key: jnp.array(value, dtype=self.dtype) for key, value in layer.items()} for layer in params]

    def _split(self, params: Params) -> tuple[list[dict[str, jax.Array]], list[dict[str, jax.Array]]]:
        """Suite-layout NumPy ``params`` as fresh device pytrees: (trainable parameters, state)."""
        device = self._to_device(params)
        return ([{key: value for key, value in layer.items() if key in keys}
                 for layer, keys in zip(device, self._trainable)],
                [{key: value for key, value in layer.items() if key not in keys}
                 for layer, keys in zip(device, self._trainable)])

    def _read_params(self) -> Params:
        return [{key: np.asarray(value) for key, value in {**layer, **state}.items()}
                for layer, state in zip(self._params, self._state)]

    def _write_params(self, params: Params) -> None:
        with self._precision():
            self._params, self._state = self._split(params)

    def native_array(self, array: np.ndarray) -> jax.Array:
        """A device copy of ``array`` in the model dtype. The dtype is fixed in NumPy first (a no-op for the
        validated batches of the public calls), so ``jnp.array`` only copies: asked to convert as well, it runs a
        convert_element_type primitive that costs ~45 µs more per array on a digits batch."""
        with self._precision():
            return jnp.array(np.asarray(array, dtype=self.dtype))

    def _read_optimizer_state(self) -> dict:
        """optax's state in the suite's form (:func:`.optimizers.read_state`), as NumPy copies."""
        state = read_state(self.spec.optimizer, self._opt_state)
        return {"step": state["step"], "slots": jax.tree_util.tree_map(lambda leaf: np.array(leaf, copy=True),
                                                                       state["slots"])}

    def _write_optimizer_state(self, state: dict) -> None:
        with self._precision():
            self._opt_state = write_state(self.spec.optimizer, self._opt_state, state, self._to_device)

    def _export(self):
        from .export import native_function

        with self._precision():
            return native_function(self.spec, self._params, self._state)

    def _snapshot(self) -> dict:
        copied = jax.tree_util.tree_map(lambda leaf: np.array(leaf, copy=True),
                                        (self._params, self._state, self._opt_state, self._key))
        return dict(zip(("params", "state", "opt_state", "key"), copied))

    def _restore(self, snapshot: dict) -> None:
        with self._precision():
            self._params, self._state = self._to_device(snapshot["params"]), self._to_device(snapshot["state"])
            self._opt_state, self._key = jax.tree_util.tree_map(lambda leaf: jnp.array(leaf, dtype=leaf.dtype),
                                                                (snapshot["opt_state"], snapshot["key"]))

    def _loss_and_grads(self, X: jax.Array, y: jax.Array, masks) -> tuple[float, Params]:
        with self._precision():
            loss, grads, self._key = self._loss_and_grads_fn(self._params, self._state, self._key, X, y, masks)
            return jax.device_get((loss, grads))

    def _train_step(self, X: jax.Array, y: jax.Array, masks) -> jax.Array:
        with self._precision():
            self._params, self._opt_state, self._state, self._key, loss = self._train_step_fn(
                self._params, self._opt_state, self._state, self._key, X, y, masks)
        return loss

    def _padded(self, array: jax.Array) -> jax.Array:
        """``array`` with zero rows appended up to :func:`bucket` of its row count."""
        extra = bucket(array.shape[0]) - array.shape[0]
        return jnp.pad(array, ((0, extra), *[(0, 0)] * (array.ndim - 1))) if extra else array

    def _predict(self, X: jax.Array) -> np.ndarray:
        with self._precision():
            return np.asarray(self._predict_fn(self._params, self._state, self._padded(X)))[:X.shape[0]]

    def _loss(self, X: jax.Array, y: jax.Array) -> float:
        with self._precision():
            weights = self._padded(jnp.ones((X.shape[0], 1), dtype=self.dtype))[:, 0]
            return float(self._loss_fn(self._params, self._state, self._padded(X), self._padded(y), weights))


def _float64_scope() -> Any:
    """The context a float64 model runs each JAX call in: ``jax_enable_x64`` on for this thread, for this call."""
    return jax.enable_x64(True)
