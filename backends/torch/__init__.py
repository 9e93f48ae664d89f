"""The torch backend: ``torch.nn`` layers and activation modules, torch autograd, ``torch.optim`` optimizers."""

from .model import Model

__all__ = ["Model"]
