"""The textbook mode of the NumPy backend (``mode="reference"``): layers, losses and optimizers written to be read,
each forward caching what its backward needs (:mod:`.layers`), one plain update per parameter (:mod:`.optimizers`)."""

from .model import Model

__all__ = ["Model"]
