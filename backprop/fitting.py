"""``Model.fit``: mini-batch training by epochs, as Keras users expect it, on any backend.

Per epoch: the rows in a fresh order (the model's shuffle generator, or ``numpy.random.default_rng(seed)`` for this
call, or in order with ``shuffle=False``), one guarded training step per batch (the last batch may be short), then
the record: mean training ``loss`` (weighted by batch size), training ``accuracy`` after the epoch for classifiers,
and ``val_loss``/``val_accuracy`` on ``validation_data``. The model's lock is taken step by step, so ``predict`` from
another thread interleaves with training.

Divergence: a step with a non-finite loss or gradient applies nothing and raises
:class:`~backprop.errors.DivergenceError`. An applied update can still overflow the parameters or optimizer state
(finite gradients, a huge step); that shows as a non-finite loss at a later step or as a non-finite snapshot at the
epoch's end, and the model then goes back to the epoch's start.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .errors import DivergenceError, InputError
from .model import Model, accuracy, all_finite, quiet
from .spec import check_number
from .validation import (batch_bytes, check_features, check_fit_args, check_memory, check_targets,
                         check_training_rows)


def fit(model: Model, X: Any, y: Any, epochs: int, batch_size: int, seed: int | None, shuffle: bool,
        validation_data: tuple[Any, Any] | None, progress: Callable[[int, dict[str, float]], None] | None
        ) -> dict[str, list[float]]:
    """See :meth:`Model.fit`; every argument is checked before the first step."""
    epochs, batch_size = check_fit_args(epochs, batch_size)
    if not isinstance(shuffle, bool):
        raise InputError(f"shuffle: expected true or false, got {shuffle!r}")
    X = check_features(X, model.spec, model.dtype)
    y = check_targets(y, model.spec, X.shape[0], model.dtype)
    validation = _validation(model, validation_data)
    rows = min(batch_size, X.shape[0])
    check_training_rows(model.spec, min(rows, X.shape[0] % batch_size or rows))
    check_memory("batch_size", batch_bytes(model.spec, rows, model.dtype), f"a training batch of {rows} rows",
                 "choose a smaller batch_size")
    if seed is None:
        orders = model.shuffle_generator
    else:
        orders = np.random.default_rng(int(check_number("seed", seed, low=0, high=None, integer=True,
                                                        error=InputError)))
    history: dict[str, list[float]] = {"loss": []}
    with quiet():
        _epochs(model, X, y, epochs, batch_size, orders if shuffle else None, validation, history, progress)
    return history


def _validation(model: Model, data: Any) -> tuple[np.ndarray, np.ndarray] | None:
    if data is None:
        return None
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise InputError(f"validation_data: expected a pair (X_val, y_val), got {type(data).__name__}")
    X = check_features(data[0], model.spec, model.dtype)
    return X, check_targets(data[1], model.spec, X.shape[0], model.dtype)


def _epochs(model: Model, X: np.ndarray, y: np.ndarray, epochs: int, batch_size: int,
            orders: np.random.Generator | None, validation, history: dict[str, list[float]], progress) -> None:
    with model._lock:
        snapshot = model._snapshot()
    for epoch in range(1, epochs + 1):
        order = orders.permutation(X.shape[0]) if orders is not None else np.arange(X.shape[0])
        total = 0.0
        for step, start in enumerate(range(0, X.shape[0], batch_size), start=1):
            index = order[start:start + batch_size]
            Xn, yn = model.native_array(X[index]), model.native_array(y[index])
            with model._lock:
                loss = float(model._train_step(Xn, yn, model._masks(Xn)))
                if not math.isfinite(loss) and not all_finite(model._read_params()):
                    model._restore(snapshot)
            if not math.isfinite(loss):
                raise DivergenceError(f"fit: non-finite loss or gradient (loss {loss}) at epoch {epoch}, step {step}; "
                                      f"parameters and optimizer state left at their last finite values")
            total += loss * len(index)
        with model._lock:
            latest = model._snapshot()
            if not all_finite(latest):
                model._restore(snapshot)
                raise DivergenceError(f"fit: an update in epoch {epoch} made the parameters or the optimizer state "
                                      f"non-finite; both are back at the epoch's start")
            snapshot = latest
        record = {"loss": total / X.shape[0]}
        if model.is_classifier:
            record["accuracy"] = accuracy(model.predict(X), y, model.spec.loss)
        if validation is not None:
            scores = model.evaluate(*validation)
            record.update({f"val_{key}": value for key, value in scores.items()})
        for key, value in record.items():
            history.setdefault(key, []).append(value)
        if progress is not None:
            progress(epoch, record)
