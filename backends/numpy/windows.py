"""Windows over NHWC images: padding geometry, strided views of every window, and the chunk plan of im2col.

A windowed layer (conv2d, pooling) with window (kh, kw) and strides (sh, sw) on an (H, W, C) input produces
(H', W') positions (:func:`backprop.spec.conv_output_size`). Output (p, q) sees the padded input rows
p·sh … p·sh + kh − 1 and columns q·sw … q·sw + kw − 1. Everything here is a view or a plan: no data is copied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

from backprop.spec import conv_output_size, same_padding


@dataclass(frozen=True)
class Geometry:
    """Where a window layer's windows fall: sizes, strides and the padding of each side."""

    height: int
    width: int
    channels: int
    window: tuple[int, int]
    strides: tuple[int, int]
    out_height: int
    out_width: int
    pad_top: int
    pad_bottom: int
    pad_left: int
    pad_right: int

    @classmethod
    def of(cls, shape: tuple[int, int, int], window: tuple[int, int], strides: tuple[int, int],
           padding: str) -> "Geometry":
        (height, width, channels), (kh, kw), (sh, sw) = shape, window, strides
        rows = same_padding(height, kh, sh) if padding == "same" else (0, 0)
        cols = same_padding(width, kw, sw) if padding == "same" else (0, 0)
        return cls(height, width, channels, window, strides, conv_output_size(height, kh, sh, padding),
                   conv_output_size(width, kw, sw, padding), *rows, *cols)

    @property
    def padded(self) -> bool:
        return any((self.pad_top, self.pad_bottom, self.pad_left, self.pad_right))

    @property
    def padded_shape(self) -> tuple[int, int, int]:
        return (self.height + self.pad_top + self.pad_bottom, self.width + self.pad_left + self.pad_right,
                self.channels)

    def source(self, x: np.ndarray, padded: np.ndarray | None) -> np.ndarray:
        """The input the windows are read from: ``x`` itself, or its copy inside the border of ``padded``."""
        if padded is None:
            return x
        self.interior(padded)[...] = x
        return padded

    def interior(self, padded: np.ndarray) -> np.ndarray:
        """The view of a padded (N, Hp, Wp, C) array that holds the unpadded (N, H, W, C) input."""
        return padded[:, self.pad_top:self.pad_top + self.height, self.pad_left:self.pad_left + self.width]

    def offset(self, padded: np.ndarray, i: int, j: int, rows: slice = slice(None)) -> np.ndarray:
        """The (N, H', W', C) view of the elements at window offset (i, j) of every window (output rows ``rows``)."""
        sh, sw = self.strides
        first, last, _ = rows.indices(self.out_height)
        return padded[:, first * sh + i:(last - 1) * sh + i + 1:sh, j:(self.out_width - 1) * sw + j + 1:sw]

    def windows(self, padded: np.ndarray, first_row: int, rows: int) -> np.ndarray:
        """The (N, rows, W', kh, kw, C) view of every window of output rows first_row … first_row + rows − 1."""
        n, _, _, c = padded.shape
        s_n, s_h, s_w, s_c = padded.strides
        (kh, kw), (sh, sw) = self.window, self.strides
        start = padded[:, first_row * sh:]
        return as_strided(start, shape=(n, rows, self.out_width, kh, kw, c),
                          strides=(s_n, s_h * sh, s_w * sw, s_h, s_w, s_c), writeable=False)


@dataclass(frozen=True)
class Chunk:
    """Samples ``samples`` and output rows ``rows`` of one im2col chunk, and its ``size`` in column rows."""

    samples: slice
    rows: slice
    size: int


def chunk_plan(n: int, out_height: int, out_width: int, row_bytes: int, budget_bytes: int) -> list[Chunk]:
    """Chunks covering every (sample, output row) of a batch, each at most ``budget_bytes`` of columns (one column
    row per output position, ``row_bytes`` each) unless a single output row is larger: whole samples together while
    a sample fits the budget, else blocks of output rows of one sample."""
    per_row = out_width * row_bytes
    if per_row * out_height <= budget_bytes:
        step = max(1, budget_bytes // (per_row * out_height))
        return [Chunk(slice(s, min(s + step, n)), slice(0, out_height), (min(s + step, n) - s) * out_height * out_width)
                for s in range(0, n, step)]
    step = max(1, budget_bytes // per_row)
    return [Chunk(slice(s, s + 1), slice(r, min(r + step, out_height)), (min(r + step, out_height) - r) * out_width)
            for s in range(n) for r in range(0, out_height, step)]


def largest(chunks: list[Chunk]) -> int:
    return max(chunk.size for chunk in chunks)


def count_real(geometry: Geometry) -> np.ndarray:
    """(H', W', 1): how many unpadded input elements each window covers (kh·kw away from the borders)."""
    covered = np.zeros((1, *geometry.padded_shape[:2], 1))
    geometry.interior(covered)[...] = 1.0
    (kh, kw) = geometry.window
    counts = sum(geometry.offset(covered, i, j) for i in range(kh) for j in range(kw))
    return counts[0]


def samples(chunk: Chunk) -> int:
    return chunk.samples.stop - chunk.samples.start


def window_elements(geometry: Geometry) -> int:
    return math.prod(geometry.window) * geometry.channels
