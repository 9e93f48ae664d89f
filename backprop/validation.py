"""Input checks that run once, in the suite, before any framework sees the data.

Each check returns a fresh C-contiguous array in the model's dtype, or raises
:class:`~backprop.errors.InputError` / :class:`~backprop.errors.InputTypeError` naming the argument, the expected
form and what was given. Nothing is modified in place, so a rejected call leaves the model untouched.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .errors import InputError, InputTypeError, SpecError
from .spec import NetworkSpec, check_number

# Below this many bytes a memory estimate is not compared with the machine's free memory (reading it costs more
# than a small train step).
MEMORY_CHECK_FLOOR_BYTES = 256 * 2**20


def numeric_array(name: str, value: Any) -> np.ndarray:
    """``value`` as a real numeric ndarray; strings, objects, complex numbers and ragged lists are rejected.

    A pandas DataFrame or Series is accepted when every column is numeric or bool (mixed float, int and bool
    columns included, as scikit-learn's ``check_array`` does); missing values become NaN and are then rejected as
    non-finite by the callers.
    """
    if _is_pandas(value):
        return _pandas_array(name, value)
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise InputTypeError(f"{name}: expected a rectangular numeric array, got a ragged or mixed "
                             f"{type(value).__name__} ({exc})") from None
    if array.dtype.kind not in "biuf":
        raise InputTypeError(f"{name}: expected a real numeric array (bool, int or float), got dtype "
                             f"{array.dtype} ({type(value).__name__})")
    return array


def _is_pandas(value: Any) -> bool:
    return type(value).__module__.split(".")[0] == "pandas" and hasattr(value, "to_numpy") and hasattr(value, "dtypes")


def _pandas_array(name: str, frame: Any) -> np.ndarray:
    from pandas.api.types import is_bool_dtype, is_complex_dtype, is_numeric_dtype

    dtypes = frame.dtypes.items() if hasattr(frame.dtypes, "items") else [(getattr(frame, "name", None),
                                                                         frame.dtypes)]
    bad = [(column, dtype) for column, dtype in dtypes
           if not (is_numeric_dtype(dtype) or is_bool_dtype(dtype)) or is_complex_dtype(dtype)]
    if bad:
        shown = ", ".join(f"{column!r} ({dtype})" for column, dtype in bad[:5])
        raise InputTypeError(f"{name}: expected numeric or bool columns, got non-numeric column(s) {shown}")
    return frame.to_numpy(dtype=np.float64, na_value=np.nan)


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
    """X must be (N, input_dim) for a vector input or (N, H, W, C) for an image input, with N ≥ 1, numeric and
    finite."""
    array = numeric_array("X", X)
    if array.shape[1:] != spec.input_shape or array.ndim != 1 + len(spec.input_shape):
        expected = ", ".join(["N", *map(str, spec.input_shape)])
        raise InputError(f"X: expected shape ({expected}), got {array.shape}")
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


def check_params(params: Any, spec: NetworkSpec, dtype: np.dtype, shapes: list | None = None,
                 field: str = "params") -> list[dict[str, np.ndarray]]:
    """A parameter list with exactly the spec's structure, shapes and dtype (or ``shapes``), finite; returned as
    fresh copies.

    Integer arrays and same-kind floats are rejected when their dtype is not the model's, so a float64 list
    cannot be silently rounded into a float32 model.
    """
    shapes = spec.param_shapes() if shapes is None else shapes
    if not isinstance(params, Sequence) or isinstance(params, (str, bytes)) or len(params) != len(shapes):
        raise InputError(f"{field}: expected a list of {len(shapes)} layer dicts, got "
                         f"{type(params).__name__}{' of length ' + str(len(params)) if hasattr(params, '__len__') else ''}")
    checked = []
    for i, (entry, expected) in enumerate(zip(params, shapes)):
        if not isinstance(entry, dict) or set(entry) != set(expected):
            keys = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
            raise InputError(f"{field}[{i}]: expected keys {sorted(expected)}, got {keys}")
        layer = {}
        for key, shape in expected.items():
            name = f"{field}[{i}][{key!r}]"
            array = numeric_array(name, entry[key])
            if array.shape != shape:
                raise InputError(f"{name}: expected shape {shape}, got {array.shape}")
            if array.dtype != dtype:
                raise InputError(f"{name}: expected dtype {dtype}, got {array.dtype}")
            _require_finite(name, array)
            if key == "running_var" and np.any(array < 0):
                raise InputError(f"{name}: expected a variance (values >= 0), got a minimum of {array.min()}")
            layer[key] = np.array(array, dtype=dtype, order="C", copy=True)
        checked.append(layer)
    return checked


def check_training_rows(spec: NetworkSpec, n: int) -> None:
    """batch_norm normalizes each feature over the values a training batch gives it (N for vectors, N·H·W for
    images) and needs at least 2 of them: a variance over one value is 0 and its unbiased form undefined."""
    for index in (i for i, layer in enumerate(spec.layers) if layer.type == "batch_norm"):
        values = n * math.prod(spec.input_shapes[index][:-1])
        if values < 2:
            raise InputError(f"X: layers[{index}] (batch_norm) needs at least 2 values per feature in a training "
                             f"batch, got {values} (a batch of {n}); train on batches of 2 or more")


def check_fit_args(epochs: Any, batch_size: Any) -> tuple[int, int]:
    """epochs ≥ 0 (0 trains nothing and returns an empty history), batch_size ≥ 1, both integers."""
    return (int(check_number("epochs", epochs, low=0, high=None, integer=True, error=InputError)),
            int(check_number("batch_size", batch_size, low=1, high=None, integer=True, error=InputError)))


def check_representable(spec: NetworkSpec, dtype: np.dtype) -> None:
    """Every spec value that a backend stores in the model dtype must survive the cast: finite, and a value that
    must be > 0 must not round to 0 (``alpha_init = 1e300`` overflows float32; ``eps = 1e-50`` rounds to 0)."""
    dtype = np.dtype(dtype)
    values: list[tuple[str, float, bool]] = []
    for i, layer in enumerate(spec.layers):
        activation = getattr(layer, "activation", None)
        if activation == "leaky_relu":
            values.append((f"layers[{i}].negative_slope", layer.negative_slope, False))
        if activation == "prelu":
            values.append((f"layers[{i}].alpha_init", layer.alpha_init, False))
        if layer.type == "batch_norm":
            values += [(f"layers[{i}].eps", layer.eps, True), (f"layers[{i}].momentum", layer.momentum, False)]
    optimizer = spec.optimizer
    values += [("optimizer.lr", optimizer.lr, True), ("optimizer.eps", optimizer.eps, True),
               ("optimizer.momentum", optimizer.momentum, False), ("optimizer.beta1", optimizer.beta1, False),
               ("optimizer.beta2", optimizer.beta2, False), ("optimizer.rho", optimizer.rho, False),
               ("optimizer.weight_decay", optimizer.weight_decay, False),
               ("optimizer.initial_accumulator", optimizer.initial_accumulator, False)]
    for field_name, value, positive in values:
        with np.errstate(over="ignore", under="ignore"):
            cast = float(np.asarray(value, dtype=dtype))
        if not math.isfinite(cast):
            raise SpecError(f"{field_name}: expected a value representable in {dtype}, got {value!r} "
                            f"(it overflows to {cast})")
        if positive and cast == 0.0:
            raise SpecError(f"{field_name}: expected a value > 0 representable in {dtype}, got {value!r} "
                            f"(it rounds to 0)")


# Copies of the parameters a backend holds at once: the values, their gradients, a framework-side copy while
# loading, plus one per optimizer slot.
PARAMETER_COPIES = 3
OPTIMIZER_SLOTS = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2, "rmsprop": 3, "adagrad": 1}


def parameter_bytes(spec: NetworkSpec, dtype: np.dtype) -> int:
    """Estimated bytes a built model holds for its parameters, gradients and optimizer slots."""
    copies = PARAMETER_COPIES + OPTIMIZER_SLOTS[spec.optimizer.name]
    return spec.param_count() * np.dtype(dtype).itemsize * copies


def batch_bytes(spec: NetworkSpec, n: int, dtype: np.dtype) -> int:
    """Estimated workspace bytes of a step on ``n`` rows: inputs, pre-activations, activations, gradients and a
    scratch buffer of every layer."""
    return 5 * n * (spec.input_dim + spec.activation_count()) * np.dtype(dtype).itemsize


def check_memory(field_name: str, needed: int, what: str, hint: str) -> None:
    """Raise a :class:`SpecError` (``field_name == "layers"``) or :class:`InputError` when ``needed`` bytes exceed
    the memory available now; estimates under :data:`MEMORY_CHECK_FLOOR_BYTES` are not checked."""
    if needed < MEMORY_CHECK_FLOOR_BYTES:
        return
    import psutil

    available = psutil.virtual_memory().available
    if needed > available:
        error = SpecError if field_name == "layers" else InputError
        raise error(f"{field_name}: {what} needs about {needed / 2**30:.3g} GiB, more than the "
                    f"{available / 2**30:.3g} GiB of memory available; {hint}")
