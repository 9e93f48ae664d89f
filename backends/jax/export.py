"""``model.to_native()`` on the JAX backend: the network as JAX programs are written, a pure function and its
variables, holding a copy of the model's current parameters and running statistics, independent of the model.

    predict, variables = model.to_native()
    output = jax.jit(predict)(variables, X)        # = model.predict(X), X (N, H, W, C) or (N, d)

``variables`` is ``{"params": [...], "state": [...]}``, one dict per spec layer in each list: the trainable
parameters in the suite's layout (dense W (fan_in, units), conv W (kh, kw, C_in, filters), HWIO, as
``lax.conv_general_dilated`` takes them with NHWC dimension numbers; b; prelu's alpha; batch_norm's gamma and beta)
and the state (batch_norm's running_mean and running_var). ``predict`` is the model's own inference forward
(:func:`.model.make_forward`: running statistics, no dropout) followed by the output activation, so
``jax.grad`` and ``jax.vmap`` apply to it like to any JAX function. A float64 export's arrays are float64; like
every float64 JAX program it runs under ``jax.enable_x64(True)`` (without it JAX computes in float32).
"""

from __future__ import annotations

from typing import Callable

import jax

from backprop.spec import NetworkSpec

from .activations import linear
from .model import OUTPUT_ACTIVATIONS, make_forward

Variables = dict[str, list[dict[str, jax.Array]]]


def native_function(spec: NetworkSpec, params: list[dict[str, jax.Array]], state: list[dict[str, jax.Array]]
                    ) -> tuple[Callable[[Variables, jax.Array], jax.Array], Variables]:
    """(predict, variables) for ``spec``, the variables fresh copies of ``params`` and ``state``."""
    forward, activation = make_forward(spec), OUTPUT_ACTIVATIONS.get(spec.loss, linear)

    def predict(variables: Variables, X: jax.Array) -> jax.Array:
        """The network's output for X in inference mode, the output activation applied."""
        return activation(forward(variables["params"], variables["state"], X)[0], None)

    copied = jax.tree_util.tree_map(lambda leaf: leaf.copy(), {"params": params, "state": state})
    return predict, copied
