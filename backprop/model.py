"""The public model contract, written once for every backend.

A backend subclasses :class:`Model` and fills in the underscored hooks in its framework's own terms. The public
methods validate every input here, in the suite, before a framework sees it, and then call the hooks.

Shapes: ``X`` is (N, input_dim) or (N, H, W, C); targets are (N, k) (class labels (N,) are turned into one-hot
rows); parameters are a list with one dict of NumPy arrays per layer (:meth:`NetworkSpec.param_shapes`).

Guarantees (DESIGN.md section 8), kept here for every backend:

- **Threads.** Every public method holds the model's lock while it touches the model, so ``predict`` and
  ``evaluate`` give correct results when called from several threads, also while another thread trains (``fit``
  takes the lock step by step, so predictions interleave with its steps and never see a half-applied update).
- **Copies.** ``copy.deepcopy`` and ``pickle`` rebuild the model from its spec and an exact snapshot of its
  parameters and optimizer state (:meth:`Model._snapshot`): the copy is independent and trains on exactly as the
  original would.
- **Memory.** Inference runs in chunks of at most :data:`INFERENCE_CHUNK_ROWS` rows with buffers that live only
  for the call; batches and networks whose estimated memory exceeds what is free are refused before allocation.
- **Outputs** are writeable NumPy arrays owned by the caller.
"""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar

import numpy as np

from .errors import DivergenceError
from .init import init_params
from .spec import NetworkSpec, as_spec
from .validation import batch_bytes, check_features, check_memory, check_params, check_targets, check_training_rows

Params = list[dict[str, np.ndarray]]

# predict and evaluate run over at most this many rows at a time.
INFERENCE_CHUNK_ROWS = 4096
# The dropout masks' generator is seeded with (seed, MASK_STREAM): a stream of its own beside the initialization's.
MASK_STREAM = 1
# fit's row orders come from a generator seeded with (seed, SHUFFLE_STREAM), which carries on from call to call.
SHUFFLE_STREAM = 2


class Model(ABC):
    """A network built from a :class:`~backprop.spec.NetworkSpec` on one backend.

    Build one with :func:`backprop.build`. ``mode`` is the backend's execution mode (for example torch
    ``eager``/``compile``, tensorflow ``eager``/``function``/``xla``, jax ``jit``).
    """

    backend: ClassVar[str]

    def __init__(self, spec: NetworkSpec, dtype: str, seed: int, mode: str) -> None:
        self.spec = spec
        self.dtype = np.dtype(dtype)
        self.seed = seed
        self.mode = mode
        self._lock = threading.RLock()
        suite_masks = spec.dropout_layers and spec.dropout_rng == "suite"
        self._mask_rng = np.random.default_rng((seed, MASK_STREAM)) if suite_masks else None
        self.shuffle_generator = np.random.default_rng((seed, SHUFFLE_STREAM))
        self._setup(init_params(spec, self.dtype, seed))

    def __repr__(self) -> str:
        shapes = "-".join("x".join(map(str, shape)) for shape in (self.spec.input_shape, *self.spec.shapes))
        return f"<{type(self).__name__} {self.backend}/{self.mode} {shapes} {self.spec.loss} {self.dtype}>"

    # ----- hooks each backend implements -------------------------------------------------------------------------

    @abstractmethod
    def _setup(self, params: Params) -> None:
        """Build the network from validated NumPy ``params`` and create fresh optimizer state."""

    @abstractmethod
    def _read_params(self) -> Params:
        """The current parameters as NumPy arrays in the suite's layout and the model dtype."""

    @abstractmethod
    def _write_params(self, params: Params) -> None:
        """Load validated NumPy ``params`` (already fresh copies); optimizer state is kept."""

    @abstractmethod
    def native_array(self, array: np.ndarray) -> Any:
        """Convert a validated NumPy array (model dtype) into the framework's tensor type."""

    @abstractmethod
    def _export(self) -> Any:
        """The framework's own model object for this network, a copy of the current state (:meth:`to_native`)."""

    @abstractmethod
    def _loss_and_grads(self, X: Any, y: Any, masks: list | None) -> tuple[float, Params]:
        """Loss (the spec's reduction, from logits) in training mode and its gradients as NumPy arrays shaped like the
        trainable parameters (:meth:`NetworkSpec.trainable_shapes`). ``masks`` are the suite's dropout masks (native
        tensors, one per dropout layer), or None when the backend draws its own. Running statistics are unchanged."""

    @abstractmethod
    def _train_step(self, X: Any, y: Any, masks: list | None) -> Any:
        """One guarded optimizer step on a native batch in training mode (dropout ``masks`` as in
        :meth:`_loss_and_grads`); return a native scalar. Running statistics move only when the update is applied.

        The update is applied only when the loss and every gradient are finite. The returned scalar is the
        pre-update loss when the update was applied, and a non-finite value when it was not (the loss itself, or
        NaN when only a gradient was non-finite), so "finite ⇔ applied". No host synchronisation is required here,
        so a benchmark can queue several steps and then read the last loss back.
        """

    @abstractmethod
    def _predict(self, X: Any) -> np.ndarray:
        """Output-layer activations (probabilities for softmax/sigmoid) as a NumPy (N, k) array."""

    @abstractmethod
    def _loss(self, X: Any, y: Any) -> float:
        """The loss on a native batch (reduced as ``spec.loss_reduction`` says) in inference mode, without computing
        gradients."""

    @abstractmethod
    def _read_optimizer_state(self) -> dict[str, Any]:
        """The optimizer state in the suite's form (:mod:`backprop.optimizer_state`): step and slots (copies)."""

    @abstractmethod
    def _write_optimizer_state(self, state: dict[str, Any]) -> None:
        """Load a validated state in the suite's form (already fresh copies in the model dtype)."""

    @abstractmethod
    def _snapshot(self) -> dict[str, Any]:
        """An exact, picklable copy (NumPy arrays and plain data) of the parameters and the optimizer state,
        step count included, owning no memory the model still uses."""

    @abstractmethod
    def _restore(self, snapshot: dict[str, Any]) -> None:
        """Load a :meth:`_snapshot` taken on a model of the same class, spec, dtype and mode."""

    # ----- public contract ---------------------------------------------------------------------------------------

    def get_params(self) -> Params:
        """Copies of the parameters: ``[{"W": (fan_in, units), "b": (units,)[, "alpha": (units,)]}, ...]``."""
        with self._lock:
            return [{key: np.array(value, dtype=self.dtype, copy=True) for key, value in layer.items()}
                    for layer in self._read_params()]

    def set_params(self, params: Params) -> None:
        """Copy ``params`` in after checking structure, shapes, dtype and finiteness (optimizer state is kept)."""
        checked = check_params(params, self.spec, self.dtype)
        with self._lock:
            self._write_params(checked)

    def get_optimizer_state(self) -> dict[str, Any]:
        """The optimizer's step count and slots in the suite's form, the same on every backend
        (:mod:`backprop.optimizer_state`): ``{"step": t, "slots": {name: [per-layer dicts], ...}}``."""
        with self._lock:
            state = self._read_optimizer_state()
        return {"step": int(state["step"]), "slots": {name: [{key: np.array(value, dtype=self.dtype, copy=True)
                                                              for key, value in layer.items()} for layer in layers]
                                                      for name, layers in state["slots"].items()}}

    def set_optimizer_state(self, state: dict[str, Any]) -> None:
        """Load an optimizer state in the suite's form (from any backend) after checking its structure, shapes,
        dtype and finiteness."""
        from .optimizer_state import check_optimizer_state

        checked = check_optimizer_state(state, self.spec, self.dtype)
        with self._lock:
            self._write_optimizer_state(checked)

    def to_native(self) -> Any:
        """This network as the framework's own model, holding a copy of the current parameters and running
        statistics and independent of this model, in inference mode, computing :meth:`predict`:

        - torch: an ``nn.Sequential`` of stock modules taking (N, C, H, W) images, the output activation last;
        - tensorflow: a ``keras.Sequential`` of stock Keras layers;
        - jax: ``(predict, variables)``, a pure function and its pytree, called as ``predict(variables, X)``;
        - numpy: an independent copy of this model.

        ``backprop.from_torch`` and ``backprop.from_keras`` read the first two back to this spec and parameters
        (torch: where TensorFlow's "same" padding is symmetric). See each backend's ``export`` module.
        """
        with self._lock:
            return self._export()

    def save(self, path: Any) -> Any:
        """Write the model to one ``.npz`` file (spec, dtype, parameters, optimizer state, step count, generators;
        no pickle), loadable on any backend with :func:`backprop.load`. Returns the path."""
        from .persistence import save

        return save(self, path)

    def _checked(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """The batch validated and converted to the model dtype (targets as (N, k); labels one-hot)."""
        X = check_features(X, self.spec, self.dtype)
        check_training_rows(self.spec, X.shape[0])
        check_memory("X", batch_bytes(self.spec, X.shape[0], self.dtype), f"a training batch of {X.shape[0]} rows",
                     "train on smaller batches (fit's batch_size)")
        return X, check_targets(y, self.spec, X.shape[0], self.dtype)

    def prepare_batch(self, X: Any, y: Any) -> tuple[Any, Any]:
        """Validate a batch and convert it to native tensors, ready for :meth:`native_train_step`."""
        X, y = self._checked(X, y)
        return self.native_array(X), self.native_array(y)

    def native_train_step(self, X: Any, y: Any) -> Any:
        """One optimizer step on a batch made by :meth:`prepare_batch`, returning the framework's own scalar.

        This is the step a timing loop calls: no validation, no conversion, no lock and no host synchronisation
        (read the scalar back to wait for it). The scalar is the pre-update loss, or non-finite when the update
        was not applied because the loss or a gradient was non-finite. It draws the suite's dropout masks, if any.
        Not for use from several threads at once.
        """
        return self._train_step(X, y, self._masks(X))

    def native_loss_and_grads(self, X: Any, y: Any) -> tuple[float, Params]:
        """Loss and gradients on a batch made by :meth:`prepare_batch` (no validation, no lock)."""
        return self._loss_and_grads(X, y, self._masks(X))

    @property
    def mask_generator(self) -> np.random.Generator | None:
        """The seeded generator the suite's dropout masks are drawn from (None without suite masks). Each training
        call draws one mask per dropout layer from it; setting its ``bit_generator.state`` back replays them."""
        return self._mask_rng

    def _masks(self, X: Any) -> list | None:
        """The suite's dropout masks for one training step on the batch ``X``, as native tensors: per dropout layer,
        m = [u ≥ rate]/(1 − rate) with u ~ U[0, 1) drawn in float32 from the model's mask generator, in the model
        dtype. None when the spec has no dropout or its backend draws its own (``dropout_rng: "native"``)."""
        if self._mask_rng is None:
            return None
        n, masks = X.shape[0], []
        for index in self.spec.dropout_layers:
            rate = self.spec.layers[index].rate
            keep = self._mask_rng.random((n, *self.spec.input_shapes[index]), dtype=np.float32) >= rate
            masks.append(self.native_array(np.multiply(keep, 1.0 / (1.0 - rate), dtype=self.dtype)))
        return masks

    def loss_and_grads(self, X: Any, y: Any) -> tuple[float, Params]:
        """The loss on the batch (reduced as ``spec.loss_reduction`` says: the mean by default) and dL/dparams,
        shaped like :meth:`get_params`; parameters are unchanged."""
        Xn, yn = self.prepare_batch(X, y)
        with self._lock, quiet():
            loss, grads = self._loss_and_grads(Xn, yn, self._masks(Xn))
        return float(loss), [{key: _owned(value) for key, value in layer.items()} for layer in grads]

    def train_step(self, X: Any, y: Any) -> float:
        """One optimizer step on this batch; returns the loss before the update.

        Raises :class:`~backprop.errors.DivergenceError` when the loss or a gradient is non-finite: the update
        is then not applied, and parameters and optimizer state are as they were.
        """
        Xn, yn = self.prepare_batch(X, y)
        with self._lock, quiet():
            loss = float(self._train_step(Xn, yn, self._masks(Xn)))
        if not math.isfinite(loss):
            raise DivergenceError(f"train_step: non-finite loss or gradient (loss {loss}); the update was not "
                                  f"applied, parameters and optimizer state are unchanged")
        return loss

    def predict(self, X: Any) -> np.ndarray:
        """Output activations for ``X``: (N, k) in the model dtype."""
        X = check_features(X, self.spec, self.dtype)
        out = np.empty((X.shape[0], self.spec.output_dim), dtype=self.dtype)
        for rows in _chunks(X.shape[0]):
            native = self.native_array(X[rows])
            with self._lock:
                out[rows] = self._predict(native)
        return out

    def evaluate(self, X: Any, y: Any) -> dict[str, float]:
        """``{"loss": ...}`` plus ``"accuracy"`` for classification losses, in inference mode."""
        X = check_features(X, self.spec, self.dtype)
        y = check_targets(y, self.spec, X.shape[0], self.dtype)
        total, mean = 0.0, self.spec.loss_reduction == "mean"
        for rows in _chunks(X.shape[0]):
            Xn, yn = self.native_array(X[rows]), self.native_array(y[rows])
            with self._lock:
                total += float(self._loss(Xn, yn)) * ((rows.stop - rows.start) if mean else 1)
        result = {"loss": total / X.shape[0] if mean else total}
        if self.is_classifier:
            result["accuracy"] = accuracy(self.predict(X), y, self.spec.loss)
        return result

    @property
    def is_classifier(self) -> bool:
        return self.spec.loss in ("cross_entropy", "binary_cross_entropy")

    def fit(self, X: Any, y: Any, epochs: int = 1, batch_size: int = 32, seed: int | None = None,
            shuffle: bool = True, validation_data: tuple[Any, Any] | None = None,
            progress: Callable[[int, dict[str, float]], None] | None = None) -> dict[str, list[float]]:
        """Mini-batch training for ``epochs`` epochs; returns the per-epoch history (:func:`.fitting.fit`).

        Each epoch visits the rows in a fresh order (unless ``shuffle=False``) drawn from the model's own shuffle
        generator, so a second ``fit`` continues with new orders; ``seed`` draws this call's orders from
        ``numpy.random.default_rng(seed)`` instead. ``validation_data=(X_val, y_val)`` adds ``val_loss`` (and
        ``val_accuracy``) after each epoch. ``epochs=0`` returns an empty history. Raises
        :class:`~backprop.errors.DivergenceError` naming the epoch and step when a loss or gradient is non-finite;
        parameters and optimizer state are then left at their last finite values.
        """
        from .fitting import fit

        return fit(self, X, y, epochs, batch_size, seed, shuffle, validation_data, progress)

    def __reduce__(self):
        """Pickle and deepcopy as the spec plus an exact snapshot; the copy shares nothing with the original."""
        with self._lock:
            state = {"spec": self.spec.to_dict(), "dtype": self.dtype.name, "seed": self.seed, "mode": self.mode,
                     "snapshot": self._snapshot(), "shuffle": self.shuffle_generator.bit_generator.state,
                     "masks": None if self._mask_rng is None else self._mask_rng.bit_generator.state}
        return restore_model, (type(self), state)


def restore_model(cls: type[Model], state: dict[str, Any]) -> Model:
    """Rebuild a pickled or deep-copied model (the other half of :meth:`Model.__reduce__`)."""
    model = cls(as_spec(state["spec"]), state["dtype"], state["seed"], state["mode"])
    model._restore(state["snapshot"])
    model.shuffle_generator.bit_generator.state = state["shuffle"]
    if state["masks"] is not None:
        model._mask_rng.bit_generator.state = state["masks"]
    return model


def all_finite(tree: Any) -> bool:
    """True when every floating-point NumPy array in a nest of dicts, lists and tuples is finite (other leaves,
    such as a framework's own tensors in a snapshot, are not looked at)."""
    if isinstance(tree, np.ndarray):
        return tree.dtype.kind != "f" or bool(np.isfinite(tree).all())
    if isinstance(tree, dict):
        return all(all_finite(value) for value in tree.values())
    if isinstance(tree, (list, tuple)):
        return all(all_finite(value) for value in tree)
    return True


def quiet() -> np.errstate:
    """NumPy's floating-point warnings off: overflow in a step is reported as a non-finite loss (and by fit and
    train_step as a :class:`DivergenceError`), not also as a RuntimeWarning."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


def _chunks(n: int) -> list[slice]:
    return [slice(start, min(start + INFERENCE_CHUNK_ROWS, n)) for start in range(0, n, INFERENCE_CHUNK_ROWS)]


def _owned(array: Any) -> np.ndarray:
    """``array`` as a writeable NumPy array that owns its memory (a copy unless it already is one)."""
    array = np.asarray(array)
    return array if array.flags.writeable and array.flags.owndata else np.array(array, copy=True)


def accuracy(probabilities: np.ndarray, targets: np.ndarray, loss: str) -> float:
    """Fraction correct: argmax match for cross_entropy, threshold 0.5 per output for binary targets."""
    probabilities = np.asarray(probabilities)
    if loss == "cross_entropy":
        return float(np.mean(np.argmax(probabilities, axis=1) == np.argmax(targets, axis=1)))
    return float(np.mean((probabilities > 0.5) == (targets > 0.5)))
