"""Bring your own model: import a Keras or torch model as a spec and its parameters (:func:`from_keras`,
:func:`from_torch`), and build a framework's own model from a spec (each backend's ``to_native``)."""

from .keras_import import from_keras
from .torch_import import from_torch

__all__ = ["from_keras", "from_torch"]
