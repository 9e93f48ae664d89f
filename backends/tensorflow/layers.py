"""The spec's layers as Keras 3 layers, every one built in the model dtype, and the forward pass over them.

Keras computes in NHWC with HWIO conv kernels, the suite's own layouts, and its padding and pooling follow
TensorFlow's rules, which are the suite's definitions (DESIGN.md section 6):

- dense: ``Dense(units)``; kernel (fan_in, units).
- conv2d: ``Conv2D(filters, kernel_size, strides, padding)``, a cross-correlation; kernel (kh, kw, C_in, filters).
  "same" is TensorFlow's (out = ⌈in/stride⌉, an odd total pad's extra row or column at the bottom/right).
- max_pool2d: ``MaxPooling2D``; its gradient goes to the first maximum of each window.
- avg_pool2d: ``AveragePooling2D``; with "same" padding it divides by the window's real elements.
- flatten: ``Flatten``, in (h, w, c) order.
- dropout: ``Dropout(rate, seed=…)``, seeded from the model seed and the layer's index (see :class:`Network`).
- batch_norm: :class:`BatchNormalization`, Keras' layer with the suite's momentum and unbiased running variance.

A layer with an activation is followed by the activation layer of :mod:`.activations` (none for linear, nor for
the output activation that a loss computed from logits folds in). A prelu on a conv layer shares its alpha over
(H, W): Keras stores it as (1, 1, filters), the suite as (filters,); the model reshapes on read and write.

The trap of training-mode layers in a custom loop: Keras' ``Dropout`` and ``BatchNormalization`` take
``training=None`` and fall back to inference (no dropout, moving statistics) unless a ``fit`` sets the training
context. ``model(x)`` inside a ``tf.GradientTape`` silently trains a different network. :class:`Network` therefore
calls the layers one by one and passes ``training`` explicitly to both.
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from backprop.spec import (BatchNormLayer, Conv2DLayer, DenseLayer, DropoutLayer, FlattenLayer, Layer,
                           MaxPool2DLayer, NetworkSpec)

from .activations import make_activation


class BatchNormalization(keras.layers.BatchNormalization):
    """y = γ·x̂ + β, x̂ = (x − μ)/√(σ² + eps) per feature (the last axis): the suite's batch_norm (torch's
    conventions) on Keras' layer, its variables and its ``training`` switch. Three Keras traps are normalized:

    - momentum: Keras writes the moving average the other way round, moving ← momentum·moving + (1 − momentum)·batch
      (default 0.99; epsilon defaults to 1e-3, torch's to 1e-5), so the layer is built with ``momentum = 1 − m`` and
      ``epsilon = eps`` for the spec's m and eps.
    - running variance: training normalizes with the batch's mean μ and biased variance σ² (Keras' ``_moments``,
      ``tf.nn.moments``), and Keras' ``call`` also moves ``moving_variance`` with that biased σ²; the suite moves it
      with the UNBIASED σ²·n/(n − 1), n the values per feature (N for vectors, N·H·W for images), or running_var
      drifts by a factor (n − 1)/n per step.
    - precision: Keras' TensorFlow backend normalizes with ``tf.nn.batch_normalization``, x·s + (β − μ·s) with
      s = γ/√(σ² + eps), which cancels when |μ| ≫ σ (after a relu, say), in the output and in the gradient through
      s (Σ g·x − μ·Σ g instead of Σ g·(x − μ)). On the suite's training-layers CNN in float32 that doubled the
      gradient error of the first conv kernel (4.1e-6 against 2.1e-6 of max|g| 1.25; NumPy's float32: 1.6e-6). Both
      modes here center first, in the NumPy reference's order: x̂ = (x − μ)·(1/√(σ² + eps)), y = x̂·γ + β.

    Inference (``training`` false) uses the moving statistics. The moving statistics are assigned in ``call`` as
    Keras does; :meth:`Network.training_call` runs the training forward in a ``keras.StatelessScope``, which
    collects those assignments instead of applying them, so the model applies them only with an accepted update.
    """

    def call(self, inputs, training=None, mask=None):
        ops = keras.ops
        if not training:
            return self._normalize(inputs, ops.cast(self.moving_mean, inputs.dtype),
                                   ops.cast(self.moving_variance, inputs.dtype))
        mean, variance = self._moments(inputs, None)
        rows = ops.cast(ops.size(inputs) // inputs.shape[-1], inputs.dtype)
        moving_mean = ops.cast(self.moving_mean, inputs.dtype)
        moving_variance = ops.cast(self.moving_variance, inputs.dtype)
        self.moving_mean.assign(moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(moving_variance * self.momentum
                                    + variance * (rows / (rows - 1.0)) * (1.0 - self.momentum))
        return self._normalize(inputs, mean, variance)

    def _normalize(self, inputs, mean, variance):
        """x̂·γ + β with x̂ = (x − μ)·(1/√(σ² + eps)), centered before scaling."""
        ops = keras.ops
        normalized = (inputs - mean) * (1.0 / ops.sqrt(variance + self.epsilon))
        return normalized * ops.cast(self.gamma, inputs.dtype) + ops.cast(self.beta, inputs.dtype)


def dropout_seed(seed: int, index: int) -> int:
    """The seed of the Keras dropout at spec layer ``index`` (``dropout_rng: "native"``): one stream per layer,
    derived from the model seed."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


class Network:
    """The spec's Keras layers in order (ending at the logits when ``spec.loss_from_logits``) and the forward pass.

    ``variables`` has each spec layer's variables by the suite's names (``{}`` for layers without parameters);
    ``statistics`` the batch_norm layers' moving mean and variance; ``seeds`` the state of each Keras dropout seed
    generator when Keras draws the masks (``dropout_rng: "native"``).

    Dropout masks: with the suite's masks (the default) a dropout layer computes x ⊙ m with the step's mask m from
    ``masks`` (values 0 or 1/(1 − rate), shaped like x), exactly the NumPy reference's multiply; with
    ``dropout_rng: "native"`` it is Keras' ``Dropout`` called with ``training=True``, which draws from its seeded
    generator with ``tf.nn.experimental.stateless_dropout``. That also runs under XLA, where TensorFlow picks
    another generator algorithm: "xla" draws other masks than "function" and "eager", as deterministically. In
    inference a dropout layer is the identity.
    """

    def __init__(self, spec: NetworkSpec, dtype: str, seed: int):
        self.suite_masks = spec.dropout_rng == "suite"
        self.layers: list[keras.layers.Layer] = []
        owners = []
        for index, layer in enumerate(spec.layers):
            main = _layer(layer, dtype, dropout_seed(seed, index))
            folded = index == len(spec.layers) - 1 and spec.loss_from_logits
            activation = getattr(layer, "activation", "linear")
            after = None if folded or activation == "linear" else make_activation(
                layer, dtype, conv=isinstance(layer, Conv2DLayer))
            self.layers += [main] if after is None else [main, after]
            owners.append((main, after))
        symbolic = keras.Input(spec.input_shape, dtype=dtype)
        for layer in self.layers:
            symbolic = layer(symbolic)
        self.variables = [layer_variables(main, after) for main, after in owners]
        self.statistics = [variable for layer in self.layers if isinstance(layer, BatchNormalization)
                           for variable in (layer.moving_mean, layer.moving_variance)]
        self.seeds = [] if self.suite_masks else [layer.seed_generator.state for layer in self.layers
                                                  if isinstance(layer, keras.layers.Dropout) and layer.rate > 0]

    def __call__(self, x: tf.Tensor, training: bool, masks: Sequence[tf.Tensor] = ()) -> tf.Tensor:
        """The network's output for ``x``; ``training`` is passed explicitly to every dropout and batch_norm."""
        masks = iter(masks)
        for layer in self.layers:
            if isinstance(layer, keras.layers.Dropout) and self.suite_masks:
                x = x * next(masks) if training else x
            elif isinstance(layer, (keras.layers.Dropout, keras.layers.BatchNormalization)):
                x = layer(x, training=training)
            else:
                x = layer(x)
        return x

    def training_call(self, x: tf.Tensor, masks: Sequence[tf.Tensor]
                      ) -> tuple[tf.Tensor, list[tuple[keras.Variable, tf.Tensor]]]:
        """The training-mode output and each moving statistic's new value, ``[(variable, value)]``, left unapplied.

        The forward runs in a ``keras.StatelessScope`` (a thread-local scope, left on return), in which a Keras
        variable's ``assign`` is recorded instead of applied: batch_norm's moving statistics are returned for the
        guarded update. Keras' dropout seed generators advance here, once per training forward pass, as the suite's
        mask generator draws once per training call.
        """
        with keras.StatelessScope(initialize_variables=False) as scope:
            output = self(x, True, masks)
        for state in self.seeds:
            state.assign(scope.get_current_value(state))
        return output, [(variable, scope.get_current_value(variable)) for variable in self.statistics]


def layer_variables(main: keras.layers.Layer, after: keras.layers.Layer | None) -> dict[str, keras.Variable]:
    """A built layer's variables by the suite's names: W, b and a prelu's alpha; batch_norm's gamma, beta,
    running_mean (Keras' moving_mean) and running_var (moving_variance)."""
    if isinstance(main, BatchNormalization):
        return {"gamma": main.gamma, "beta": main.beta, "running_mean": main.moving_mean,
                "running_var": main.moving_variance}
    if not isinstance(main, (keras.layers.Dense, keras.layers.Conv2D)):
        return {}
    found = {"W": main.kernel, "b": main.bias}
    if after is not None and hasattr(after, "alpha"):
        found["alpha"] = after.alpha
    return found


def _layer(layer: Layer, dtype: str, seed: int) -> keras.layers.Layer:
    if isinstance(layer, DenseLayer):
        return keras.layers.Dense(layer.units, dtype=dtype)
    if isinstance(layer, Conv2DLayer):
        return keras.layers.Conv2D(layer.filters, layer.kernel_size, strides=layer.strides, padding=layer.padding,
                                   dtype=dtype)
    if isinstance(layer, FlattenLayer):
        return keras.layers.Flatten(dtype=dtype)
    if isinstance(layer, DropoutLayer):
        return keras.layers.Dropout(float(layer.rate), seed=seed, dtype=dtype)
    if isinstance(layer, BatchNormLayer):
        return BatchNormalization(momentum=1.0 - float(layer.momentum), epsilon=float(layer.eps), dtype=dtype)
    pooling = keras.layers.MaxPooling2D if isinstance(layer, MaxPool2DLayer) else keras.layers.AveragePooling2D
    return pooling(layer.pool_size, strides=layer.strides, padding=layer.padding, dtype=dtype)
