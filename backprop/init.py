"""Suite-owned, seeded parameter initialization.

Every backend loads these same NumPy numbers, so a framework's own initializer never enters a comparison. Draws are
made in float64 from ``numpy.random.default_rng(seed)`` and then cast, so one seed gives bit-identical parameters on
every backend, in every run, and float32 parameters are exactly the rounded float64 ones. A weight matrix is drawn
in blocks of rows of at most :data:`DRAW_BLOCK` numbers, each cast into the result as it is drawn: the generator
yields the same stream whatever the block size, and a float32 net never has a float64 copy of itself.

| name | W | b |
|---|---|---|
| glorot_uniform | U(±√(6/(fan_in + fan_out))) | 0 |
| he_normal | N(0, 2/fan_in) (plain normal, not Keras' truncated one) | 0 |
| uniform | U(±0.5), as in the seed documents | U(±0.5) |

A dense W is (fan_in, units): fan_in and fan_out are its two sides. A conv2d W is (kh, kw, C_in, filters): fan_in =
kh·kw·C_in and fan_out = kh·kw·filters, as Keras counts them. A prelu layer's ``alpha`` starts at the layer's
``alpha_init`` (0.25 by default). A batch_norm layer starts at gamma = 1, beta = 0, running_mean = 0 and
running_var = 1 (every framework's default). Layers without parameters get an empty dict and draw nothing.
"""

from __future__ import annotations

import math

import numpy as np

from .spec import NetworkSpec


# Numbers drawn at a time (in float64) while filling a weight matrix.
DRAW_BLOCK = 2**20


def init_params(spec: NetworkSpec, dtype: str | np.dtype, seed: int) -> list[dict[str, np.ndarray]]:
    """Return the parameter list for ``spec``: one dict per layer (``{"W", "b"[, "alpha"]}``, or empty), in
    ``dtype``."""
    rng = np.random.default_rng(seed)
    params = []
    for layer, shapes in zip(spec.layers, spec.param_shapes()):
        if "gamma" in shapes:
            ones, zeros = (np.ones(shapes["gamma"], dtype=dtype), np.zeros(shapes["gamma"], dtype=dtype))
            params.append({"gamma": ones, "beta": zeros, "running_mean": zeros.copy(), "running_var": ones.copy()})
            continue
        if "W" not in shapes:
            params.append({})
            continue
        shape, units = shapes["W"], shapes["W"][-1]
        receptive = math.prod(shape[:-2])
        fan_in, fan_out = receptive * shape[-2], receptive * units
        if spec.init == "glorot_uniform":
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            weight = _drawn(shape, dtype, lambda size: rng.uniform(-limit, limit, size))
            bias = np.zeros(units, dtype=dtype)
        elif spec.init == "he_normal":
            scale = math.sqrt(2.0 / fan_in)
            weight = _drawn(shape, dtype, lambda size: rng.normal(0.0, scale, size))
            bias = np.zeros(units, dtype=dtype)
        else:
            weight = _drawn(shape, dtype, lambda size: rng.uniform(-0.5, 0.5, size))
            bias = _drawn((units,), dtype, lambda size: rng.uniform(-0.5, 0.5, size))
        entry = {"W": weight, "b": bias}
        if "alpha" in shapes:
            entry["alpha"] = np.full(shapes["alpha"], layer.alpha_init, dtype=dtype)
        params.append(entry)
    return params


def _drawn(shape: tuple[int, ...], dtype: str | np.dtype, draw) -> np.ndarray:
    """An array of ``shape`` filled row block by row block with ``draw(block_shape)`` (float64), cast to ``dtype``."""
    out = np.empty(shape, dtype=dtype)
    rows = max(1, DRAW_BLOCK // max(1, math.prod(shape[1:])))
    for start in range(0, shape[0], rows):
        out[start:start + rows] = draw((min(rows, shape[0] - start), *shape[1:]))
    return out
