"""Finite-difference gradient check of the NumPy backend, in float64.

For every trainable parameter element p: numeric = (L(p + ε) − L(p − ε)) / 2ε (central differences, ε = 1e-6),
compared with the analytic gradient under DESIGN.md's rule (rtol 1e-5, atol 1e-7). Keep inputs away from relu
kinks. Every evaluation replays the same dropout masks (the model's mask generator is reset before each), so a
network with dropout is checked at one fixed mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .registry import build
from .spec import NetworkSpec, as_spec
from .tolerances import TOLERANCES, compare


def finite_difference_check(spec: NetworkSpec | dict, X: Any, y: Any, params: list | None = None, seed: int = 0,
                            eps: float = 1e-6) -> pd.DataFrame:
    """One row per parameter: ``layer, param, shape, max_abs_err, max_rel_err, passed``.

    ``params`` (float64) defaults to the suite's seeded initialization. ``max_rel_err`` is
    max |analytic − numeric| / max(|analytic|, |numeric|, 1e-12).
    """
    model = build(as_spec(spec), backend="numpy", dtype="float64", seed=seed)
    if params is not None:
        model.set_params(params)
    params = model.get_params()
    Xn, yn = model.prepare_batch(X, y)
    masks = None if model.mask_generator is None else model.mask_generator.bit_generator.state

    def loss_and_grads():
        if masks is not None:
            model.mask_generator.bit_generator.state = masks
        return model.native_loss_and_grads(Xn, yn)

    analytic = [{key: value.copy() for key, value in layer.items()} for layer in loss_and_grads()[1]]

    def loss_at(index: int, key: str, i: int, value: float) -> float:
        original = params[index][key].flat[i]
        params[index][key].flat[i] = value
        model.set_params(params)
        params[index][key].flat[i] = original
        return loss_and_grads()[0]

    tolerance = TOLERANCES[("finite_differences", "float64")]
    rows = []
    for index, grads in enumerate(analytic):
        for key in grads:
            value = params[index][key]
            numeric = np.empty_like(value)
            for i in range(value.size):
                plus = loss_at(index, key, i, value.flat[i] + eps)
                minus = loss_at(index, key, i, value.flat[i] - eps)
                numeric.flat[i] = (plus - minus) / (2.0 * eps)
            result = compare(grads[key], numeric, tolerance)
            denom = np.maximum(np.maximum(np.abs(grads[key]), np.abs(numeric)), 1e-12)
            rows.append({"layer": index, "param": key, "shape": str(value.shape),
                         "max_abs_err": result.max_abs_diff,
                         "max_rel_err": float(np.max(np.abs(grads[key] - numeric) / denom)),
                         "passed": result.passed})
    return pd.DataFrame(rows)
