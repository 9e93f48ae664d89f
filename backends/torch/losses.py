"""The spec's losses as ``torch.nn.functional`` losses computed from the last layer's output ``z`` (N, k).

Each entry maps ``(z, y) -> scalar`` with ``y`` the (N, k) targets in the model dtype (class labels arrive one-hot):

- mse: ``F.mse_loss(a, y)`` = (1/(N·k)) Σ (a − y)², where ``a`` is the output layer's activation.
- cross_entropy: ``F.cross_entropy(z, y)`` with probability (one-hot) targets of the same shape as ``z``:
  −(1/N) Σ_n Σ_c y_nc · log_softmax(z)_nc. torch's log_softmax subtracts max z per row, so ±1e4 logits stay
  finite. Mean reduction with probability targets divides by N, not by N·C.
- binary_cross_entropy: ``F.binary_cross_entropy_with_logits(z, y)`` = (1/(N·k)) Σ max(z, 0) − z·y + log(1 + e^−|z|).

``loss_reduction`` "sum" is torch's own ``reduction="sum"`` (a sum over all elements, over the rows for
cross_entropy); mse's "half_sum" is that sum times ½.

The two classification losses take logits: the output softmax/sigmoid is folded in, never applied before them.
Probability-based losses (``F.binary_cross_entropy`` clamps its log at −100) are never used.
"""

from __future__ import annotations

from typing import Callable

from torch.nn import functional as F

LOSSES = {
    "mse": F.mse_loss,
    "cross_entropy": F.cross_entropy,
    "binary_cross_entropy": F.binary_cross_entropy_with_logits,
}


def make_loss(name: str, reduction: str) -> Callable:
    """``(output, y) -> scalar``: the loss with torch's ``reduction`` "mean" or "sum" (½ of the sum for
    "half_sum")."""
    loss = LOSSES[name]
    if reduction == "mean":
        return loss
    if reduction == "sum":
        return lambda output, y: loss(output, y, reduction="sum")
    return lambda output, y: 0.5 * loss(output, y, reduction="sum")
