"""Helpers shared by the test modules."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import backprop
from backprop.datasets import random_batch
from backprop.spec import conv_output_size

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
    pools = [i for i, layer in enumerate(spec["layers"]) if layer.get("type") == "max_pool2d"]
    for _ in range(tries):
        X, y = random_batch(spec, n, rng)
        zs = model.pre_activations(X)
        if not all(np.all((np.abs(z) > margin) | ((z == 0) & exact_zero_ok)) for z, k in zip(zs, kinked) if k):
            continue
        if pools and not _max_pools_clear(model, X, pools, margin):
            continue
        return X, y
    raise AssertionError(f"no batch clear of relu kinks and max-pool near-ties by {margin} in {tries} draws")


def _max_pools_clear(model, X, pools: list[int], margin: float) -> bool:
    """In every window of every max pooling, the largest element leads the next one by more than ``margin``
    (relative), or ties it exactly (every backend then picks the first): a near tie could go either way."""
    from .naive_layers import forward, windows

    outputs = forward(model.spec, model.get_params(), X)
    for index in pools:
        layer, a = model.spec.layers[index], (outputs[index - 1] if index else np.asarray(X, dtype=float))
        for _, _, rows, cols, _ in windows(a, layer.pool_size, layer.strides, layer.padding):
            real = np.sort([a[:, r, c] for r in rows for c in cols if 0 <= r < a.shape[1] and 0 <= c < a.shape[2]],
                           axis=0)
            if len(real) > 1:
                gap = real[-1] - real[-2]
                if np.any((gap > 0) & (gap <= margin * np.maximum(1.0, np.abs(real[-1])))):
                    return False
    return True


@st.composite
def cnn_specs(draw, max_conv: int = 3, losses=("cross_entropy", "mse", "binary_cross_entropy"),
              activations=("relu", "tanh", "sigmoid", "linear", "leaky_relu", "prelu"),
              pools=("max_pool2d", "avg_pool2d")) -> dict:
    """Random valid CNN specs: an (H, W, C) input with odd and even, non-square sides; 1 to ``max_conv`` conv2d
    layers (kernels 1-5, non-square too, strides 1-3, both paddings), each maybe followed by a max or average
    pooling (windows 1-3, strides 1-3, both paddings); then flatten and a dense output for the loss."""
    shape = [draw(st.integers(4, 11)), draw(st.integers(4, 11)), draw(st.integers(1, 3))]
    sides, layers = shape[:2], []
    for _ in range(draw(st.integers(1, max_conv))):
        kernel, strides, padding = _window(draw, sides, 5)
        layers.append({"type": "conv2d", "filters": draw(st.integers(1, 4)), "kernel_size": kernel,
                       "strides": strides, "padding": padding, "activation": draw(st.sampled_from(activations))})
        sides = [conv_output_size(n, k, s, padding) for n, k, s in zip(sides, kernel, strides)]
        if draw(st.booleans()):
            pool, strides, padding = _window(draw, sides, 3)
            layers.append({"type": draw(st.sampled_from(pools)), "pool_size": pool,
                           "strides": strides, "padding": padding})
            sides = [conv_output_size(n, k, s, padding) for n, k, s in zip(sides, pool, strides)]
    loss = draw(st.sampled_from(losses))
    output = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid", "mse": "linear"}[loss]
    layers += [{"type": "flatten"}, {"units": draw(st.integers(2, 4)), "activation": output}]
    return {"input_shape": shape, "layers": layers, "loss": loss}


def _window(draw, sides: list[int], largest: int) -> tuple[list[int], list[int], str]:
    """A window (each side 1 to ``largest``, and no larger than a "valid" input side), strides 1-3, a padding."""
    padding = draw(st.sampled_from(["valid", "same"]))
    window = [draw(st.integers(1, min(largest, side) if padding == "valid" else largest)) for side in sides]
    return window, [draw(st.integers(1, 3)), draw(st.integers(1, 3))], padding
