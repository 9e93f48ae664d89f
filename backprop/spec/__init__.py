"""The backend-agnostic network spec: plain, validated, immutable data.

- :mod:`.values`: the checks every field goes through (numbers, choices, keys, dtypes);
- :mod:`.layers`: one spec class per layer type, with its fields, shape inference and parameter shapes;
- :mod:`.optimizer`: the optimizer and its hyperparameters;
- :mod:`.network`: :class:`NetworkSpec`, its dict and JSON forms, and the summary table.
"""

from .layers import (ACTIVATIONS, DEFAULT_LEAKY_SLOPE, DEFAULT_PRELU_ALPHA, LAYER_TYPES, PADDINGS,  # noqa: F401
                     Activated, AvgPool2DLayer, BatchNormLayer, Conv2DLayer, DenseLayer, DropoutLayer, FlattenLayer,
                     Layer, MaxPool2DLayer, Pool2DLayer, conv_output_size, layer_from_dict, same_padding)
from .network import (DROPOUT_RNGS, INITIALIZERS, LOSS_OUTPUT, LOSSES, MAX_SPEC_FILE_BYTES,  # noqa: F401
                      NetworkSpec, as_spec, mlp_spec, parse_json, read_spec_text)
from .optimizer import OPTIMIZER_DEFAULTS, OPTIMIZERS, SCHEDULES, OptimizerSpec, ScheduleSpec  # noqa: F401
from .values import DTYPES, canonical_dtype, check_choice, check_keys, check_number  # noqa: F401

# The dense layer's spec, under the name the adapters' type hints use.
LayerSpec = DenseLayer
