"""The public model contract, written once for every backend.

A backend subclasses :class:`Model` and fills in the underscored hooks in its framework's own terms. The public
methods validate every input here, in the suite, before a framework sees it, and then call the hooks.

Shapes: ``X`` is (N, input_dim); targets are (N, k) (class labels (N,) are turned into one-hot rows);
parameters are a list of ``{"W": (fan_in, units), "b": (units,)[, "alpha": (units,)]}`` NumPy dicts.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar

import numpy as np

from .errors import DivergenceError
from .init import init_params
from .spec import NetworkSpec
from .validation import check_features, check_fit_args, check_params, check_targets

Params = list[dict[str, np.ndarray]]


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
        self._setup(init_params(spec, self.dtype, seed))

    def __repr__(self) -> str:
        widths = "-".join(str(w) for w in [self.spec.input_dim, *(layer.units for layer in self.spec.layers)])
        return f"<{type(self).__name__} {self.backend}/{self.mode} {widths} {self.spec.loss} {self.dtype}>"

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
    def to_native(self, array: np.ndarray) -> Any:
        """Convert a validated NumPy array (model dtype) into the framework's tensor type."""

    @abstractmethod
    def _loss_and_grads(self, X: Any, y: Any) -> tuple[float, Params]:
        """Loss (mean reduction, from logits) and its gradients as NumPy arrays shaped like the params."""

    @abstractmethod
    def _train_step(self, X: Any, y: Any) -> Any:
        """One optimizer step on a native batch; return the pre-update loss as a native scalar.

        The update is not applied when that loss is non-finite. No host synchronisation is required here, so
        a benchmark can queue several steps and then read the last loss back.
        """

    @abstractmethod
    def _predict(self, X: Any) -> np.ndarray:
        """Output-layer activations (probabilities for softmax/sigmoid) as a NumPy (N, k) array."""

    # ----- public contract ---------------------------------------------------------------------------------------

    def get_params(self) -> Params:
        """Copies of the parameters: ``[{"W": (fan_in, units), "b": (units,)[, "alpha": (units,)]}, ...]``."""
        return [{key: np.array(value, dtype=self.dtype, copy=True) for key, value in layer.items()}
                for layer in self._read_params()]

    def set_params(self, params: Params) -> None:
        """Copy ``params`` in after checking structure, shapes, dtype and finiteness (optimizer state is kept)."""
        self._write_params(check_params(params, self.spec, self.dtype))

    def _checked(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """The batch validated and converted to the model dtype (targets as (N, k); labels one-hot)."""
        X = check_features(X, self.spec, self.dtype)
        return X, check_targets(y, self.spec, X.shape[0], self.dtype)

    def prepare_batch(self, X: Any, y: Any) -> tuple[Any, Any]:
        """Validate a batch and convert it to native tensors, ready for the hooks."""
        X, y = self._checked(X, y)
        return self.to_native(X), self.to_native(y)

    def loss_and_grads(self, X: Any, y: Any) -> tuple[float, Params]:
        """Mean loss on the batch and dL/dparams, shaped like :meth:`get_params`; parameters are unchanged."""
        loss, grads = self._loss_and_grads(*self.prepare_batch(X, y))
        return float(loss), [{key: np.asarray(value) for key, value in layer.items()} for layer in grads]

    def train_step(self, X: Any, y: Any) -> float:
        """One optimizer step on this batch; returns the loss before the update."""
        return float(self._train_step(*self.prepare_batch(X, y)))

    def predict(self, X: Any) -> np.ndarray:
        """Output activations for ``X``: (N, k) in the model dtype."""
        return np.asarray(self._predict(self.to_native(check_features(X, self.spec, self.dtype))))

    def evaluate(self, X: Any, y: Any) -> dict[str, float]:
        """``{"loss": ...}`` plus ``"accuracy"`` for classification losses."""
        X, y = self._checked(X, y)
        Xn = self.to_native(X)
        result = {"loss": float(self._loss_and_grads(Xn, self.to_native(y))[0])}
        if self.is_classifier:
            result["accuracy"] = accuracy(self._predict(Xn), y, self.spec.loss)
        return result

    @property
    def is_classifier(self) -> bool:
        return self.spec.loss in ("cross_entropy", "binary_cross_entropy")

    def fit(self, X: Any, y: Any, epochs: int = 1, batch_size: int = 32, seed: int = 0,
            progress: Callable[[int, dict[str, float]], None] | None = None) -> dict[str, list[float]]:
        """Mini-batch training with seeded shuffling: ``numpy.random.default_rng(seed).permutation`` per epoch.

        Returns the history: per-epoch mean training ``loss`` (weighted by batch size) and, for classifiers, the
        training ``accuracy`` after the epoch. ``progress(epoch, record)`` is called after each epoch.
        Raises :class:`~backprop.errors.DivergenceError` naming the epoch and step when a loss is non-finite; the
        parameters are then left at their last finite values.
        """
        epochs, batch_size, seed = check_fit_args(epochs, batch_size, seed)
        X, y = self._checked(X, y)
        rng = np.random.default_rng(seed)
        history: dict[str, list[float]] = {"loss": []}
        with np.errstate(over="ignore", invalid="ignore"):
            self._fit_epochs(X, y, epochs, batch_size, rng, history, progress)
        return history

    def _fit_epochs(self, X: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, rng: np.random.Generator,
                    history: dict[str, list[float]], progress) -> None:
        """The epoch loop of :meth:`fit`; overflow is reported as a :class:`DivergenceError`, not a warning."""
        for epoch in range(1, epochs + 1):
            order = rng.permutation(X.shape[0])
            snapshot = self.get_params()
            total = 0.0
            for step, start in enumerate(range(0, X.shape[0], batch_size), start=1):
                index = order[start:start + batch_size]
                loss = float(self._train_step(self.to_native(X[index]), self.to_native(y[index])))
                if not math.isfinite(loss):
                    self._restore_finite(snapshot)
                    raise DivergenceError(f"fit: non-finite loss {loss} at epoch {epoch}, step {step}; "
                                          f"parameters left at their last finite values")
                total += loss * len(index)
            record = {"loss": total / X.shape[0]}
            if self.is_classifier:
                record["accuracy"] = accuracy(self.predict(X), y, self.spec.loss)
            for key, value in record.items():
                history.setdefault(key, []).append(value)
            if progress is not None:
                progress(epoch, record)

    def _restore_finite(self, snapshot: Params) -> None:
        """Keep the current parameters if finite (the diverging step was not applied), else the epoch's start."""
        if not all(np.all(np.isfinite(value)) for layer in self._read_params() for value in layer.values()):
            self._write_params(snapshot)


def accuracy(probabilities: np.ndarray, targets: np.ndarray, loss: str) -> float:
    """Fraction correct: argmax match for cross_entropy, threshold 0.5 per output for binary targets."""
    probabilities = np.asarray(probabilities)
    if loss == "cross_entropy":
        return float(np.mean(np.argmax(probabilities, axis=1) == np.argmax(targets, axis=1)))
    return float(np.mean((probabilities > 0.5) == (targets > 0.5)))
