"""The BLAS calls of the NumPy backend: GEMM, dot products and row sums, through NumPy's BLAS or SciPy's.

A model picks one pair (:class:`Blas`) for all its calls. A model that folds an sgd update into a GEMM needs BLAS's
``beta = 1`` (out ← alpha·a @ b + beta·out), which only SciPy's wrapper offers; such a model sends every call
through SciPy, because SciPy's OpenBLAS and NumPy's keep separate thread pools, and two pools busy-waiting against
each other on the same cores cost more than the fusion saves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.linalg import blas as scipy_blas

# out ← a @ b with NumPy's BLAS, called as ``numpy_gemm(a, b, out)``: ``np.dot`` itself, since it has the least
# per-call overhead for tiny arrays and a Python wrapper around it would add a frame to every GEMM.
numpy_gemm = np.dot


def scipy_gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> None:
    """out ← alpha·a @ b + beta·out in place with SciPy's BLAS, for a C-contiguous ``out``.

    BLAS is column-major: the C-ordered ``out`` is the Fortran array outᵀ = alpha·bᵀ @ aᵀ + beta·outᵀ. Each operand
    is passed as a Fortran view of itself or of its transpose (with the transpose flag), so nothing is copied.
    """
    gemm = scipy_blas.sgemm if out.dtype == np.float32 else scipy_blas.dgemm
    (x, trans_x), (y, trans_y) = _fortran(b.T), _fortran(a.T)
    gemm(alpha, x, y, beta=beta, c=out.T, trans_a=trans_x, trans_b=trans_y, overwrite_c=True)


def numpy_dot(x: np.ndarray, y: np.ndarray) -> float:
    """Σ x·y over two same-shape arrays, with NumPy's BLAS."""
    return float(np.vdot(x, y))


def scipy_dot(x: np.ndarray, y: np.ndarray) -> float:
    """Σ x·y over two same-shape arrays, with SciPy's BLAS (the partner of :func:`scipy_gemm`)."""
    dot = scipy_blas.sdot if x.dtype == np.float32 else scipy_blas.ddot
    return float(dot(x.ravel(), y.ravel()))


def _fortran(matrix: np.ndarray) -> tuple[np.ndarray, int]:
    return (matrix, 0) if matrix.flags.f_contiguous else (matrix.T, 1)


@dataclass(frozen=True)
class Blas:
    """The GEMM ``gemm(a, b, out)`` and dot ``dot(x, y) -> float`` one model uses for every call."""

    gemm: Callable[[np.ndarray, np.ndarray, np.ndarray], None]
    dot: Callable[[np.ndarray, np.ndarray], float]
    scipy: bool

    @classmethod
    def choose(cls, fuses_sgd: bool) -> "Blas":
        return cls(scipy_gemm, scipy_dot, True) if fuses_sgd else cls(numpy_gemm, numpy_dot, False)

    def gemm_accumulate(self, a: np.ndarray, b: np.ndarray, out: np.ndarray, scratch: np.ndarray) -> None:
        """out ← out + a @ b (``scratch`` shaped like ``out`` serves NumPy's BLAS, which has no beta)."""
        if self.scipy:
            scipy_gemm(a, b, out, beta=1.0)
        else:
            np.dot(a, b, scratch)
            out += scratch


class RowSum:
    """``row_sum(a)`` is Σ_c a_nc as a new (N, 1) array, computed as the product a @ 1 with the model's GEMM.

    NumPy's ``a.sum(axis=1)`` over a short last axis loops row by row: for 128 × 10 the product is four times faster.
    """

    def __init__(self, gemm, k: int, dtype: np.dtype):
        self.gemm, self.ones = gemm, np.ones((k, 1), dtype=dtype)

    def __call__(self, a: np.ndarray) -> np.ndarray:
        out = np.empty((a.shape[0], 1), dtype=a.dtype)
        self.gemm(a, self.ones, out)
        return out
