"""backprop: one feedforward network spec, four backends, proven to agree and timed side by side.

>>> import backprop
>>> model = backprop.build({"input_dim": 2, "layers": [{"units": 1, "activation": "sigmoid"}],
...                         "loss": "binary_cross_entropy"}, backend="numpy", dtype="float64", seed=0)
"""

from .convert import from_keras, from_torch  # noqa: F401
from .errors import (BackendError, BackpropError, DivergenceError, InputError, InputTypeError,  # noqa: F401
                     SpecError)
from .init import init_params  # noqa: F401
from .model import Model  # noqa: F401
from .persistence import load  # noqa: F401
from .registry import BACKENDS, available_backends, build, register_backend  # noqa: F401
from .spec import Layer, NetworkSpec, OptimizerSpec, as_spec  # noqa: F401

__version__ = "0.1.0"
