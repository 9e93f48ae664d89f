"""The reference backend: forward and backward propagation written out by the chain rule in NumPy. No autograd.

Two modes: "eager" (:mod:`.model`), built for speed, and "reference" (:mod:`.reference`), the textbook statement of
the same math.
"""

from .model import Model
from .reference import Model as ReferenceModel

MODELS = {"eager": Model, "reference": ReferenceModel}

__all__ = ["MODELS", "Model", "ReferenceModel"]
