"""The TensorFlow model: the spec's Keras 3 layers called one by one (:class:`.layers.Network`),
``tf.GradientTape``, and the spec's optimizer as TF variable updates.

Forward, a_0 = X (N, input_dim) or (N, H, W, C): each Keras layer in turn, dropout and batch_norm with ``training``
passed explicitly (Keras would otherwise run them in inference mode inside a custom loop). Keras' kernels are the
suite's own layout (dense (fan_in, units), conv2d (kh, kw, C_in, filters)), so parameters are copied in and out as
they are, reshaped only where Keras keeps a different shape (a conv prelu's alpha, (1, 1, filters)); batch_norm's
running_mean and running_var are Keras' moving_mean and moving_variance, parameters without gradients
(``spec.trainable_shapes()``). When the loss is computed from logits (cross_entropy, binary_cross_entropy) the
network ends at the logits z_L and ``predict`` applies softmax/sigmoid after it. Every layer, loss and variable is in
the model dtype (see :mod:`.activations` and :mod:`.losses` for the Keras defaults that would otherwise downcast a
float64 model to float32).

Training (``_loss_and_grads``, ``_train_step``) runs in training mode: the suite's dropout masks (a list of
tensors, empty when Keras draws its own or there is no dropout) are arguments of the compiled step, and batch_norm
normalizes with the batch's statistics. Its moving statistics are collected, not assigned, during the forward pass
(:meth:`.layers.Network.training_call`): ``_loss_and_grads`` drops them, ``_train_step`` assigns them inside the
guarded update, so a step rejected for a non-finite loss or gradient changes nothing (parameters, optimizer slots,
step count, moving statistics). With ``dropout_rng: "native"`` Keras' seeded dropout generators advance once per
training call, applied or not, as the suite's own mask generator does. Inference (``predict``, ``evaluate``) uses
the moving statistics and no dropout.

Modes: "function" (default) wraps the whole train step (forward, tape, gradient, guarded update) in one
``tf.function``; "xla" the same with ``jit_compile=True``; "eager" runs the same Python code op by op. The train
step is traced once per batch shape and then reused (``fit`` with a remainder batch traces twice): a fixed
signature with a ``None`` batch dimension would trace only once, but leaves the loss's mean divisor and the
gradient's broadcast shapes to runtime ops, which cost ~10 % of a small network's step. Inference (``predict``,
``evaluate``'s loss) has such a signature, so any number of batch sizes share one trace.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from backprop.errors import SpecError
from backprop.model import Model as BaseModel, Params

from .activations import make_activation
from .layers import Network
from .losses import make_loss
from .optimizers import make_optimizer, update_if_finite


class Model(BaseModel):
    backend = "tensorflow"

    def _setup(self, params: Params) -> None:
        dtype = self.dtype.name
        self._network = Network(self.spec, dtype, self.seed)
        self._layer_variables = self._network.variables
        self._trainable = [layer[key] for layer, shapes in zip(self._layer_variables, self.spec.trainable_shapes())
                           for key in shapes]
        self._write_params(params)
        self._loss_object = make_loss(self.spec.loss, dtype, self.spec.loss_reduction,
                                       self.spec.loss_scale(1))
        self._optimizer = make_optimizer(self._trainable, self.spec.optimizer)
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

    def _training_loss(self, X: tf.Tensor, y: tf.Tensor, masks: Sequence[tf.Tensor]):
        """Loss L in training mode, dL/dv for every trainable variable (``self._trainable`` order), and the
        batch_norm moving statistics' new values, not yet applied."""
        with tf.GradientTape() as tape:
            output, statistics = self._network.training_call(X, masks)
            loss = self._loss_object(y, output)
        return loss, tape.gradient(loss, self._trainable), statistics

    def _value_and_grads(self, X: tf.Tensor, y: tf.Tensor, masks: Sequence[tf.Tensor] = ()
                         ) -> tuple[tf.Tensor, list[tf.Tensor]]:
        """Loss and gradients in training mode; the moving statistics are left as they are."""
        loss, grads, _ = self._training_loss(X, y, masks)
        return loss, grads

    def _step(self, X: tf.Tensor, y: tf.Tensor, masks: Sequence[tf.Tensor] = ()) -> tf.Tensor:
        """One guarded optimizer step, moving statistics included; returns the pre-update loss, or a non-finite
        value if it was skipped.

        A model without suite masks calls the compiled step as ``(X, y)``: passing even an empty list costs a
        ``tf.function`` call ~40 µs of argument binding, 9 % of a dispatch-bound xor step under XLA."""
        loss, grads, statistics = self._training_loss(X, y, masks)
        return update_if_finite(self._optimizer, loss, grads, statistics)

    def _inference_loss(self, X: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        return self._loss_object(y, self._network(X, training=False))

    def _outputs(self, X: tf.Tensor) -> tf.Tensor:
        """Output-layer activations (N, k): softmax/sigmoid applied to the logits for from-logits losses."""
        output = self._network(X, training=False)
        return output if self._output_activation is None else self._output_activation(output)

    def _read_params(self) -> Params:
        return [{key: np.array(variable.numpy(), copy=True).reshape(shapes[key]) for key, variable in layer.items()}
                for layer, shapes in zip(self._layer_variables, self.spec.param_shapes())]

    def _write_params(self, params: Params) -> None:
        for layer, values in zip(self._layer_variables, params):
            for key, value in values.items():
                layer[key].assign(np.reshape(value, layer[key].shape))

    def native_array(self, array: np.ndarray) -> tf.Tensor:
        return tf.convert_to_tensor(array)

    def _state_variables(self) -> list[tf.Variable]:
        """Everything a snapshot holds: every parameter (moving statistics included), the optimizer's slots and
        step count, and Keras' dropout seed generators (``dropout_rng: "native"``)."""
        parameters = [variable for layer in self._layer_variables for variable in layer.values()]
        return [*parameters, *self._optimizer.state_variables, *self._network.seeds]

    def _export(self):
        from .export import native_model

        return native_model(self.spec, self._read_params(), self.dtype.name)

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

    def _spec_optimizer(self):
        """The spec-formula optimizer, whose slots are the suite's own; Keras' native ones are refused."""
        if self.spec.optimizer.native:
            raise SpecError(f"optimizer.native: Keras' own {self.spec.optimizer.name} keeps Keras' slots, not the "
                               "suite's textbook ones (DESIGN.md section 7), so its state cannot be read or written in "
                               "the suite's form; use native: false to save or move the model's optimizer state")
        return self._optimizer

    def _read_optimizer_state(self) -> dict:
        optimizer = self._spec_optimizer()
        shapes = self.spec.trainable_shapes()
        slots = {}
        for name, variables in optimizer.slots.items():
            flat = iter(variables)
            slots[name] = [{key: np.array(next(flat).numpy(), copy=True).reshape(shape) for key, shape in layer.items()}
                           for layer in shapes]
        return {"step": int(optimizer.iterations.numpy()), "slots": slots}

    def _write_optimizer_state(self, state: dict) -> None:
        optimizer = self._spec_optimizer()
        for name, variables in optimizer.slots.items():
            values = (value for layer in state["slots"][name] for value in layer.values())
            for variable, value in zip(variables, values):
                variable.assign(np.reshape(value, variable.shape))
        optimizer.iterations.assign(state["step"])

    def _loss_and_grads(self, X: tf.Tensor, y: tf.Tensor, masks) -> tuple[float, Params]:
        loss, grads = self._value_and_grads_fn(X, y, *([masks] if masks else []))
        flat = iter(grads)
        return float(loss), [{key: next(flat).numpy().reshape(shape) for key, shape in shapes.items()}
                             for shapes in self.spec.trainable_shapes()]

    def _train_step(self, X: tf.Tensor, y: tf.Tensor, masks) -> tf.Tensor:
        return self._train_step_fn(X, y, *([masks] if masks else []))

    def _predict(self, X: tf.Tensor) -> np.ndarray:
        return self._predict_fn(X).numpy()

    def _loss(self, X: tf.Tensor, y: tf.Tensor) -> float:
        return float(self._loss_fn(X, y))
