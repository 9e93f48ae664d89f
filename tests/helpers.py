"""Helpers shared by the test modules."""

from __future__ import annotations

import numpy as np

import backprop
from backprop.datasets import random_batch

KINKED = ("relu", "leaky_relu", "prelu")


def kink_free_batch(spec: dict, rng: np.random.Generator, n: int = 16, seed: int = 0, margin: float = 1e-6,
                    exact_zero_ok: bool = True, tries: int = 200, params: list | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """A batch whose relu-family pre-activations (at ``params``, by default the seed's initial weights) are clear
    of the kink at 0.

    Every |z| must exceed ``margin``; with ``exact_zero_ok`` an exact 0 is allowed too (every backend takes the
    derivative at 0 from the left). Near-zero z could land on either side of 0 under a different summation order,
    and finite differences straddling the kink are meaningless. Batches are redrawn from ``rng`` until one is
    clear, so a caller always gets a real case; failing to find one in ``tries`` draws is an error, not a skip.
    """
    model = backprop.build(spec, backend="numpy", dtype="float64", seed=seed)
    if params is not None:
        model.set_params(params)
    kinked = [layer.get("activation") in KINKED for layer in spec["layers"]]
    for _ in range(tries):
        X, y = random_batch(spec, n, rng)
        zs = model.pre_activations(X)
        if all(np.all((np.abs(z) > margin) | ((z == 0) & exact_zero_ok)) for z, k in zip(zs, kinked) if k):
            return X, y
    raise AssertionError(f"no batch with relu-family pre-activations clear of 0 by {margin} in {tries} draws")
