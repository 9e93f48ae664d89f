"""Data from files for the command line: features and targets from a CSV, ``.npz`` or ``.npy`` file.

- CSV (read with pandas): one row per sample; ``target`` names the column of the targets (class labels or a
  regression value), every other column is a feature.
- ``.npz``: arrays ``X`` (N, d) or images (N, H, W, C), and ``y``; read with ``allow_pickle=False``.
- ``.npy``: one (N, d + 1) numeric array, ``target`` the index of the targets' column (e.g. 0 or -1).

Every problem (a missing file, an unknown column, absent arrays, a corrupt file) is an
:class:`~backprop.errors.InputError` naming the file; the values themselves are checked when a model uses them.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .datasets import Dataset
from .errors import InputError


def read_data(path: str | Path, target: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) from a data file; see the module docstring for each format."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"data: no such file {str(path)!r}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv(path, target)
    if suffix == ".npz":
        return _npz(path)
    if suffix == ".npy":
        return _npy(path, target)
    raise InputError(f"data: expected a .csv, .npz or .npy file, got {str(path)!r}")


def _csv(path: Path, target: str | None) -> tuple[Any, np.ndarray]:
    import pandas as pd

    if not target:
        raise InputError(f"target: a CSV file needs --target naming its targets' column ({str(path)!r})")
    try:
        frame = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise InputError(f"data: {str(path)!r} is not a readable CSV file ({error})") from None
    if target not in frame.columns:
        raise InputError(f"target: no column {target!r} in {str(path)!r}; its columns are "
                         f"{', '.join(map(str, frame.columns[:20]))}")
    return frame.drop(columns=[target]), frame[target].to_numpy()


def _npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in ("X", "y") if key not in archive.files]
            if missing:
                raise InputError(f"data: {str(path)!r} lacks the array(s) {', '.join(missing)} (it has "
                                 f"{', '.join(archive.files) or 'none'})")
            return archive["X"], archive["y"]
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise InputError(f"data: {str(path)!r} is not a readable .npz archive ({error})") from None


def _npy(path: Path, target: str | None) -> tuple[np.ndarray, np.ndarray]:
    try:
        array = np.load(path, allow_pickle=False)
    except (EOFError, OSError, ValueError) as error:
        raise InputError(f"data: {str(path)!r} is not a readable .npy array ({error})") from None
    if array.ndim != 2 or array.shape[1] < 2:
        raise InputError(f"data: a .npy file holds one (N, d + 1) array of features and targets, got shape "
                         f"{array.shape} in {str(path)!r}")
    try:
        column = int(target if target is not None else -1)
    except ValueError:
        raise InputError(f"target: for a .npy file give the targets' column index, got {target!r}") from None
    if not -array.shape[1] <= column < array.shape[1]:
        raise InputError(f"target: column {column} is out of range for {array.shape[1]} columns")
    return np.delete(array, column, axis=1), array[:, column]


def split(X: Any, y: np.ndarray, test_fraction: float, validation_fraction: float, seed: int
          ) -> tuple[Dataset, tuple[Any, np.ndarray] | None]:
    """A seeded test split, and a validation split out of the rest (None when ``validation_fraction`` is 0)."""
    n = len(y)
    order = np.random.default_rng(seed).permutation(n)
    n_test, n_validation = int(round(n * test_fraction)), int(round(n * validation_fraction))
    if n - n_test - n_validation < 1:
        raise InputError(f"data: {n} rows leave none for training after a test split of {test_fraction} and a "
                         f"validation split of {validation_fraction}")
    test, validation, train = np.split(order, [n_test, n_test + n_validation])
    take = _rows(X)
    data = Dataset(take(train), y[train], take(test), y[test])
    return data, ((take(validation), y[validation]) if n_validation else None)


def _rows(X: Any):
    if hasattr(X, "iloc"):
        return lambda index: X.iloc[index]
    return lambda index: X[index]
