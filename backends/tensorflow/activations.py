"""Activations as Keras 3 layers in the model dtype, each mapping pre-activations ``z`` (N, units) to ``a``.

Every layer is built with ``dtype`` set to the model dtype: a Keras layer left at the default policy (float32)
casts float64 inputs down to float32 and creates float32 weights. Derivatives come from ``tf.GradientTape``.

- linear, sigmoid, tanh, relu, softmax: ``keras.layers.Activation`` (``tf.nn.sigmoid``, ``tf.nn.tanh``,
  ``tf.nn.relu`` with derivative 0 at z = 0, ``tf.nn.softmax`` over the last axis).
- leaky_relu: ``keras.layers.LeakyReLU`` with the spec's slope always passed (its own default is 0.3), computed
  as ``where(z > 0, z, s·z)``. Keras' call is ``tf.nn.leaky_relu``, whose slope is a float32 op attribute: in a
  float64 model s = 0.01 becomes 0.009999999776, a 2.2e-8 relative error that breaks the float64 tolerances.
- prelu: ``keras.layers.PReLU`` with one α per unit (``alpha`` (units,)), loaded from the suite's params (Keras
  would initialise it to zeros), computed as ``where(z > 0, z, α·z)``. Keras' call is
  ``relu(z) − α·relu(−z)``: the same values, but its derivative at z = 0 is 0 where the spec (and torch, JAX,
  NumPy) give α.
"""

from __future__ import annotations

import keras

from backprop.spec import Activated


class LeakyReLU(keras.layers.LeakyReLU):
    """a = z if z > 0 else s·z, with s exact in the layer's dtype (derivative s at z = 0)."""

    def call(self, inputs):
        return keras.ops.where(inputs > 0, inputs, inputs * self.negative_slope)


class PReLU(keras.layers.PReLU):
    """a = z if z > 0 else α_j·z, with the learnable per-unit ``alpha`` (units,) (derivative α_j at z = 0)."""

    def call(self, inputs):
        return keras.ops.where(inputs > 0, inputs, inputs * self.alpha)


def make_activation(layer: Activated, dtype: str, conv: bool = False) -> keras.layers.Layer:
    """The activation layer for one layer spec, in ``dtype``; a prelu layer's alpha is loaded by the model (one
    per unit, or with ``conv`` one per filter, shared over height and width)."""
    if layer.activation == "leaky_relu":
        return LeakyReLU(negative_slope=float(layer.negative_slope), dtype=dtype)
    if layer.activation == "prelu":
        return PReLU(shared_axes=[1, 2] if conv else None, dtype=dtype)
    return keras.layers.Activation(layer.activation, dtype=dtype)
