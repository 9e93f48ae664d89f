"""The machine's float32 GEMM peak: an (n, n) @ (n, n) NumPy matmul, 2·n³ FLOPs, timed like a train step."""

from __future__ import annotations

import numpy as np

from .timing import Timing, measure


def gemm_peak(n: int, repeats: int, max_timed_s: float) -> Timing:
    """The timing of one float32 (n, n) matmul; its GFLOP/s is 2·n³ over the step time."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)

    def step() -> float:
        np.matmul(a, b, out=out)
        return out[0, 0]

    return measure(step, check_steps=3, repeats=repeats, max_timed_s=max_timed_s)
