"""Suite-owned, seeded parameter initialization.

Every backend loads these same NumPy numbers, so a framework's own initializer never enters a comparison. Draws are
made in float64 from ``numpy.random.default_rng(seed)`` and then cast, so one seed gives bit-identical parameters on
every backend, in every run, and float32 parameters are exactly the rounded float64 ones.

| name | W (fan_in, units) | b (units,) |
|---|---|---|
| glorot_uniform | U(±√(6/(fan_in+units))) | 0 |
| he_normal | N(0, 2/fan_in) (plain normal, not Keras' truncated one) | 0 |
| uniform | U(±0.5), as in the seed documents | U(±0.5) |

A prelu layer's ``alpha`` (units,) starts at the layer's ``alpha_init`` (0.25 by default).
"""

from __future__ import annotations

import math

import numpy as np

from .spec import NetworkSpec


def init_params(spec: NetworkSpec, dtype: str | np.dtype, seed: int) -> list[dict[str, np.ndarray]]:
    """Return the parameter list for ``spec``: one ``{"W", "b"[, "alpha"]}`` dict per layer, in ``dtype``."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, layer in zip(spec.fan_ins, spec.layers):
        shape = (fan_in, layer.units)
        if spec.init == "glorot_uniform":
            limit = math.sqrt(6.0 / (fan_in + layer.units))
            weight, bias = rng.uniform(-limit, limit, shape), np.zeros(layer.units)
        elif spec.init == "he_normal":
            weight, bias = rng.normal(0.0, math.sqrt(2.0 / fan_in), shape), np.zeros(layer.units)
        else:
            weight, bias = rng.uniform(-0.5, 0.5, shape), rng.uniform(-0.5, 0.5, layer.units)
        entry = {"W": weight.astype(dtype), "b": bias.astype(dtype)}
        if layer.activation == "prelu":
            entry["alpha"] = np.full(layer.units, layer.alpha_init, dtype=dtype)
        params.append(entry)
    return params
