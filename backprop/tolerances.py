"""DESIGN.md section 4: the one comparison rule and its tolerance table.

``a`` agrees with reference ``b`` when ``|a − b| ≤ atol·s + rtol·|b|`` element-wise, with ``s = max(1, max|b|)``
for the scaled checks. The norm ratio ``‖a − b‖ / ‖b‖`` is reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float
    scaled: bool = True  # atol is multiplied by s = max(1, max|b|)


TOLERANCES: dict[tuple[str, str], Tolerance] = {
    ("gradients", "float64"): Tolerance(rtol=1e-9, atol=1e-12),
    ("gradients", "float32"): Tolerance(rtol=1e-4, atol=1e-5),
    ("finite_differences", "float64"): Tolerance(rtol=1e-5, atol=1e-7, scaled=False),
    ("trajectory", "float64"): Tolerance(rtol=1e-8, atol=1e-10),
    ("trajectory", "float32"): Tolerance(rtol=1e-3, atol=1e-4),
    # A loss value against its exact (float64 or long double) value from the same logits: 4 units of the dtype's
    # machine epsilon, absolute below 1 and relative above (all four backends were measured within 2.5).
    ("loss", "float64"): Tolerance(rtol=0.0, atol=4 * 2.0**-52),
    ("loss", "float32"): Tolerance(rtol=0.0, atol=4 * 2.0**-23),
}


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing ``a`` against reference ``b``."""

    max_abs_diff: float
    max_rel_err: float
    norm_ratio: float
    tolerance_used: float  # max |a − b| / (atol·s + rtol·|b|): ≤ 1 passes
    passed: bool


def compare(a: np.ndarray, b: np.ndarray, tolerance: Tolerance) -> Comparison:
    """Compare in float64; ``max_rel_err`` is max |a−b| / (|b| + tiny) over elements, for reporting only."""
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diff = np.abs(a64 - b64)
    scale = max(1.0, float(np.max(np.abs(b64), initial=0.0))) if tolerance.scaled else 1.0
    bound = tolerance.atol * scale + tolerance.rtol * np.abs(b64)
    norm_b = float(np.linalg.norm(b64))
    return Comparison(
        max_abs_diff=float(np.max(diff, initial=0.0)),
        max_rel_err=float(np.max(diff / (np.abs(b64) + np.finfo(np.float64).tiny), initial=0.0)),
        norm_ratio=float(np.linalg.norm(a64 - b64) / norm_b) if norm_b > 0 else float(np.linalg.norm(a64 - b64)),
        tolerance_used=float(np.max(diff / bound, initial=0.0)),
        passed=bool(np.all(diff <= bound)) and a64.shape == b64.shape,
    )
