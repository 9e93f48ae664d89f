"""Flat parameter and gradient buffers, and each layer's views into them.

All parameters live in one flat array and all gradients in another, layer after layer. A layer with a weight W of
shape (..., units) stores W followed by its bias b, so the pair is one augmented matrix [W; b] of shape
(K + 1, units), K = W.size / units: with a column of ones appended to its input, one GEMM computes the layer's
pre-activation with its bias, and one GEMM its weight gradient with the bias gradient. A prelu alpha follows. An
optimizer update is then a fixed handful of whole-buffer calls, whatever the depth.
"""

from __future__ import annotations

import math

import numpy as np

Shapes = dict[str, tuple[int, ...]]


class LayerViews:
    """One layer's views into a flat buffer: ``arrays`` by name in the layer's own shapes, ``augmented`` [W; b]
    (or None for a layer without weights) and ``segment``, the layer's whole flat range."""

    def __init__(self, flat: np.ndarray, offset: int, shapes: Shapes):
        self.arrays: dict[str, np.ndarray] = {}
        self.augmented = None
        start = offset
        if "W" in shapes:
            units = shapes["W"][-1]
            rows = math.prod(shapes["W"]) // units
            self.augmented = flat[offset:offset + (rows + 1) * units].reshape(rows + 1, units)
            self.arrays["W"] = self.augmented[:-1].reshape(shapes["W"])
            self.arrays["b"] = self.augmented[-1]
            offset += self.augmented.size
        for name, shape in shapes.items():
            if name not in ("W", "b"):
                self.arrays[name] = flat[offset:offset + math.prod(shape)].reshape(shape)
                offset += math.prod(shape)
        self.segment = flat[start:offset]

    @property
    def rest(self) -> np.ndarray:
        """The segment after [W; b] (a prelu alpha), empty when there is none."""
        return self.segment[0 if self.augmented is None else self.augmented.size:]


class ParameterBuffers:
    """``flat_values``/``flat_grads`` of the trainable parameters and, per layer, :class:`LayerViews` of each
    (``values[l]``, ``grads[l]``); ``flat_state`` holds the parameters that are not trained (batch_norm's running
    statistics), with per-layer views ``state[l]``, so no optimizer (nor weight decay) ever touches them."""

    def __init__(self, shapes: list[Shapes], state_shapes: list[Shapes], dtype: np.dtype):
        size = sum(math.prod(shape) for layer in shapes for shape in layer.values())
        self.flat_values, self.flat_grads = np.zeros(size, dtype=dtype), np.zeros(size, dtype=dtype)
        self.values, self.grads, self.offsets, self.shapes, offset = [], [], [], shapes, 0
        for layer in shapes:
            self.offsets.append(offset)
            self.values.append(LayerViews(self.flat_values, offset, layer))
            self.grads.append(LayerViews(self.flat_grads, offset, layer))
            offset += self.values[-1].segment.size
        self.flat_state = np.zeros(sum(math.prod(shape) for layer in state_shapes for shape in layer.values()),
                                   dtype=dtype)
        self.state, offset = [], 0
        for layer in state_shapes:
            self.state.append(LayerViews(self.flat_state, offset, layer).arrays)
            offset += sum(math.prod(shape) for shape in layer.values())

    def split(self, flat: np.ndarray) -> list[dict[str, np.ndarray]]:
        """Per-layer views of any flat array laid out like the trainable parameters (an optimizer slot)."""
        return [LayerViews(flat, offset, shapes).arrays for offset, shapes in zip(self.offsets, self.shapes)]

    def arrays(self, index: int) -> dict[str, np.ndarray]:
        """Every parameter of layer ``index`` by name, trained or not (views)."""
        return {**self.values[index].arrays, **self.state[index]}
