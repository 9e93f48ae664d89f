"""The TensorFlow model: a Keras 3 ``Sequential`` of the spec's layers (:mod:`.layers`), ``tf.GradientTape``, and
the spec's optimizer as TF variable updates.

Forward, a_0 = X (N, input_dim) or (N, H, W, C): each Keras layer in turn. Keras' kernels are the suite's own layout
(dense (fan_in, units), conv2d (kh, kw, C_in, filters)), so parameters are copied in and out as they are, reshaped
only where Keras keeps a different shape (a conv prelu's alpha, (1, 1, filters)). When the loss is computed from
logits (cross_entropy, binary_cross_entropy) the network ends at the logits z_L and ``predict`` applies
softmax/sigmoid after it. Every layer, loss and variable is in the model dtype (see :mod:`.activations` and
:mod:`.losses` for the Keras defaults that would otherwise downcast a float64 model to float32).

Modes: "function" (default) wraps the whole train step (forward, tape, gradient, guarded update) in one
``tf.function``; "xla" the same with ``jit_compile=True``; "eager" runs the same Python code op by op. The train
step is traced once per batch shape and then reused (``fit`` with a remainder batch traces twice): a fixed
signature with a ``None`` batch dimension would trace only once, but leaves the loss's mean divisor and the
gradient's broadcast shapes to runtime ops, which cost ~10 % of a small network's step. Inference (``predict``,
``evaluate``'s loss) has such a signature, so any number of batch sizes share one trace.
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from backprop.model import Model as BaseModel, Params

from .activations import make_activation
from .layers import keras_layers, layer_variables
from .losses import make_loss
from .optimizers import make_optimizer, update_if_finite


def build_network(spec, dtype: str) -> tuple[keras.Sequential, list[dict[str, keras.Variable]]]:
    """The Keras network for ``spec`` and, per spec layer, its variables by the suite's names."""
    layers, owners = keras_layers(spec, dtype)
    network = keras.Sequential([keras.Input(spec.input_shape, dtype=dtype), *layers])
    return network, [layer_variables(main, after) for main, after in owners]


class Model(BaseModel):
    backend = "tensorflow"

    def _setup(self, params: Params) -> None:
        dtype = self.dtype.name
        self._network, self._layer_variables = build_network(self.spec, dtype)
        self._variables = [variable for layer in self._layer_variables for variable in layer.values()]
        self._write_params(params)
        self._loss_object = make_loss(self.spec.loss, dtype)
        self._optimizer = make_optimizer(self._variables, self.spec.optimizer)
        self._output_activation = make_activation(self.spec.layers[-1], dtype) if self.spec.loss_from_logits \
            else None
        self._value_and_grads_fn = self._compiled(self._value_and_grads)
        self._train_step_fn = self._compiled(self._step)
        features = tf.TensorSpec([None, *self.spec.input_shape], dtype)
        targets = tf.TensorSpec([None, self.spec.output_dim], dtype)
        self._predict_fn = self._compiled(self._outputs, [features])
        self._loss_fn = self._compiled(self._inference_loss, [features, targets])

    def _compiled(self, method: Callable, signature: list | None = None) -> Callable:
        """``method`` as this mode runs it: plain (eager), or a ``tf.function`` (XLA-compiled in "xla"), traced
        once for ``signature`` when one is given, else once per input shape.

        The ``tf.function`` wraps a closure made for this model: TensorFlow counts traces per Python function, and
        a bound method's function is shared by every model, so building a few models would count as "excessive
        retracing" and log a warning although each model traced once per shape."""
        if self.mode == "eager":
            return method

        def function(*args):
            return method(*args)

        return tf.function(function, input_signature=signature, autograph=False, jit_compile=self.mode == "xla")

    def _value_and_grads(self, X: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, list[tf.Tensor]]:
        """Loss L (scalar) and dL/dv for every variable, in ``self._variables`` order."""
        with tf.GradientTape() as tape:
            loss = self._loss_object(y, self._network(X))
        return loss, tape.gradient(loss, self._variables)

    def _step(self, X: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        """One guarded optimizer step; returns the pre-update loss, or a non-finite value if it was skipped."""
        loss, grads = self._value_and_grads(X, y)
        return update_if_finite(self._optimizer, loss, grads)

    def _inference_loss(self, X: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        return self._loss_object(y, self._network(X))

    def _outputs(self, X: tf.Tensor) -> tf.Tensor:
        """Output-layer activations (N, k): softmax/sigmoid applied to the logits for from-logits losses."""
        output = self._network(X)
        return output if self._output_activation is None else self._output_activation(output)

    def _read_params(self) -> Params:
        return [{key: np.array(variable.numpy(), copy=True).reshape(shapes[key]) for key, variable in layer.items()}
                for layer, shapes in zip(self._layer_variables, self.spec.param_shapes())]

    def _write_params(self, params: Params) -> None:
        for layer, values in zip(self._layer_variables, params):
            for key, value in values.items():
                layer[key].assign(np.reshape(value, layer[key].shape))

    def to_native(self, array: np.ndarray) -> tf.Tensor:
        return tf.convert_to_tensor(array)

    def _state_variables(self) -> list[tf.Variable]:
        return [*self._variables, *self._optimizer.state_variables]

    def _snapshot(self) -> dict:
        """Every variable's value, read in one ``tf.function`` call (reading each variable eagerly is one op
        dispatch apiece, ~0.2 ms)."""
        if not hasattr(self, "_read_state"):
            self._read_state = tf.function(lambda: [tf.identity(v) for v in self._state_variables()],
                                           autograph=False)
        return {"variables": [np.array(value, copy=True) for value in self._read_state()]}

    def _restore(self, snapshot: dict) -> None:
        for variable, value in zip(self._state_variables(), snapshot["variables"]):
            variable.assign(value)

    def _loss_and_grads(self, X: tf.Tensor, y: tf.Tensor, masks) -> tuple[float, Params]:
        loss, grads = self._value_and_grads_fn(X, y)
        flat = iter(grads)
        return float(loss), [{key: next(flat).numpy().reshape(shapes[key]) for key in layer}
                             for layer, shapes in zip(self._layer_variables, self.spec.param_shapes())]

    def _train_step(self, X: tf.Tensor, y: tf.Tensor, masks) -> tf.Tensor:
        return self._train_step_fn(X, y)

    def _predict(self, X: tf.Tensor) -> np.ndarray:
        return self._predict_fn(X).numpy()

    def _loss(self, X: tf.Tensor, y: tf.Tensor) -> float:
        return float(self._loss_fn(X, y))
