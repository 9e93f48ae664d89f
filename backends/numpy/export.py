"""``model.to_native()`` on the NumPy backend. The NumPy backend is its own framework: its native model is a
NumPy model, so the export is an independent deep copy of the model (parameters, running statistics, optimizer
state and step count, generators), which trains and predicts without touching the original."""

from __future__ import annotations

import copy

from backprop.model import Model


def native_copy(model: Model) -> Model:
    """An independent copy of ``model``."""
    return copy.deepcopy(model)
