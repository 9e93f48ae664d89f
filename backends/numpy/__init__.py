"""The reference backend: forward and backward propagation written out by the chain rule in NumPy. No autograd."""

from .model import Model

__all__ = ["Model"]
