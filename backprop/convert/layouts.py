"""The one layout fact shared by torch import and export: the order in which a flatten lists an image's values.

The suite (and Keras) flattens an (H, W, C) image in (h, w, c) order; torch flattens its (C, H, W) tensors in
(c, h, w) order. Everything indexed by the flattened features (the columns of the dense layer after the flatten,
the per-feature vectors of a batch_norm between them) is permuted between the two orders.
"""

from __future__ import annotations

import numpy as np


def suite_from_torch_order(image_shape: tuple[int, int, int]) -> np.ndarray:
    """Indices ``order`` with ``suite_features = torch_features[order]`` for an (H, W, C) image: position
    (h·W + w)·C + c of the suite's vector holds torch's feature c·H·W + h·W + w. ``np.argsort(order)`` goes back."""
    height, width, channels = image_shape
    return np.arange(height * width * channels).reshape(channels, height, width).transpose(1, 2, 0).reshape(-1)
