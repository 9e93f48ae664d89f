"""Input checks that run once, in the suite, before any framework sees the data.

Each check returns a fresh C-contiguous array in the model's dtype, or raises
:class:`~backprop.errors.InputError` / :class:`~backprop.errors.InputTypeError` naming the argument, the expected
form and what was given. Nothing is modified in place, so a rejected call leaves the model untouched.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .errors import InputError, InputTypeError
from .spec import NetworkSpec, check_number


def numeric_array(name: str, value: Any) -> np.ndarray:
    """``value`` as a real numeric ndarray; strings, objects, complex numbers and ragged lists are rejected."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise InputTypeError(f"{name}: expected a rectangular numeric array, got a ragged or mixed "
                             f"{type(value).__name__} ({exc})") from None
    if array.dtype.kind not in "biuf":
        raise InputTypeError(f"{name}: expected a real numeric array (bool, int or float), got dtype "
                             f"{array.dtype} ({type(value).__name__})")
    return array


def _require_finite(name: str, array: np.ndarray) -> None:
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[0]
        raise InputError(f"{name}: expected finite values, got {array[tuple(bad)]} at index "
                         f"{tuple(int(i) for i in bad)}")


def _finite_in(name: str, array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``array`` cast to ``dtype``; values that overflow it (1e300 in float32) count as non-finite."""
    _require_finite(name, array)
    with np.errstate(over="ignore"):
        cast = np.ascontiguousarray(array, dtype=dtype)
    if not np.all(np.isfinite(cast)):
        bad = np.argwhere(~np.isfinite(cast))[0]
        raise InputError(f"{name}: expected values representable in {dtype}, got {array[tuple(bad)]} at index "
                         f"{tuple(int(i) for i in bad)}")
    return cast


def check_features(X: Any, spec: NetworkSpec, dtype: np.dtype) -> np.ndarray:
    """X must be (N, input_dim) with N ≥ 1, numeric and finite."""
    array = numeric_array("X", X)
    if array.ndim != 2 or array.shape[1] != spec.input_dim:
        raise InputError(f"X: expected shape (N, {spec.input_dim}), got {array.shape}")
    if array.shape[0] == 0:
        raise InputError("X: expected at least one sample, got an empty batch (0 rows)")
    return _finite_in("X", array, dtype)


def check_targets(y: Any, spec: NetworkSpec, n_samples: int, dtype: np.dtype) -> np.ndarray:
    """Targets as an (N, k) array in ``dtype``.

    - mse: (N, k), or (N,) when k = 1; finite.
    - binary_cross_entropy: as mse, with every value in [0, 1].
    - cross_entropy: integer labels (N,) in [0, C) or one-hot rows (N, C); returned one-hot.
    """
    array = numeric_array("y", y)
    k = spec.output_dim
    if array.shape[:1] != (n_samples,):
        raise InputError(f"y: expected {n_samples} rows to match X, got shape {array.shape}")
    _require_finite("y", array)
    if spec.loss == "cross_entropy":
        return _class_targets(array, k, dtype)
    if array.ndim == 1 and k == 1:
        array = array[:, None]
    if array.shape != (n_samples, k):
        raise InputError(f"y: expected shape ({n_samples}, {k}){' or (N,)' if k == 1 else ''}, got {array.shape}")
    if spec.loss == "binary_cross_entropy" and (np.any(array < 0) or np.any(array > 1)):
        raise InputError(f"y: binary_cross_entropy targets must lie in [0, 1], got values in "
                         f"[{array.min()}, {array.max()}]")
    return _finite_in("y", array, dtype)


def _class_targets(array: np.ndarray, n_classes: int, dtype: np.dtype) -> np.ndarray:
    if array.ndim == 1:
        if array.dtype.kind == "f" and np.any(array != np.round(array)):
            raise InputError(f"y: cross_entropy labels must be integers in [0, {n_classes}), got non-integer "
                             f"values such as {array[array != np.round(array)][0]}")
        if np.any(array < 0) or np.any(array >= n_classes):
            raise InputError(f"y: cross_entropy labels must be integers in [0, {n_classes}), got values in "
                             f"[{array.min()}, {array.max()}]")
        one_hot = np.zeros((array.shape[0], n_classes), dtype=dtype)
        one_hot[np.arange(array.shape[0]), array.astype(np.int64)] = 1
        return one_hot
    if array.ndim != 2 or array.shape[1] != n_classes:
        raise InputError(f"y: cross_entropy expects integer labels (N,) or one-hot rows (N, {n_classes}), "
                         f"got shape {array.shape}")
    if np.any(array < 0) or np.any(array > 1) or not np.allclose(array.sum(axis=1), 1.0):
        raise InputError("y: one-hot cross_entropy targets must have entries in [0, 1] and rows summing to 1")
    return np.ascontiguousarray(array, dtype=dtype)


def check_params(params: Any, spec: NetworkSpec, dtype: np.dtype) -> list[dict[str, np.ndarray]]:
    """A parameter list with exactly the spec's structure, shapes and dtype, finite; returned as fresh copies.

    Integer arrays and same-kind floats are rejected when their dtype is not the model's, so a float64 list
    cannot be silently rounded into a float32 model.
    """
    shapes = spec.param_shapes()
    if not isinstance(params, Sequence) or isinstance(params, (str, bytes)) or len(params) != len(shapes):
        raise InputError(f"params: expected a list of {len(shapes)} layer dicts, got "
                         f"{type(params).__name__}{' of length ' + str(len(params)) if hasattr(params, '__len__') else ''}")
    checked = []
    for i, (entry, expected) in enumerate(zip(params, shapes)):
        if not isinstance(entry, dict) or set(entry) != set(expected):
            keys = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
            raise InputError(f"params[{i}]: expected keys {sorted(expected)}, got {keys}")
        layer = {}
        for key, shape in expected.items():
            name = f"params[{i}][{key!r}]"
            array = numeric_array(name, entry[key])
            if array.shape != shape:
                raise InputError(f"{name}: expected shape {shape}, got {array.shape}")
            if array.dtype != dtype:
                raise InputError(f"{name}: expected dtype {dtype}, got {array.dtype}")
            _require_finite(name, array)
            layer[key] = np.array(array, dtype=dtype, order="C", copy=True)
        checked.append(layer)
    return checked


def check_fit_args(epochs: Any, batch_size: Any, seed: Any) -> tuple[int, int, int]:
    """epochs ≥ 1, batch_size ≥ 1, seed ≥ 0, all integers."""
    return (int(check_number("epochs", epochs, low=1, high=None, integer=True, error=InputError)),
            int(check_number("batch_size", batch_size, low=1, high=None, integer=True, error=InputError)),
            int(check_number("seed", seed, low=0, high=None, integer=True, error=InputError)))
