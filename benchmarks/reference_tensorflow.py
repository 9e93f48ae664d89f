"""The TensorFlow minimal loops (see :mod:`benchmarks.reference_loops`): a Keras ``Sequential``, a Keras loss and
a Keras optimizer, as the Keras guide "Writing a training loop from scratch" writes the step::

    @tf.function(jit_compile=True)   # "function": @tf.function; "eager": no decorator
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
        return loss

``guarded`` (the loop's twin that explains the suite's overhead, never a yardstick of its own) updates only when
the loss and every gradient are finite, through a ``tf.cond``, as the suite's step does.

Keras' layers take the suite's layouts as they are (NHWC images, HWIO kernels, (h, w, c) flatten order); dropout
is Keras' ``Dropout``, active in the step's ``training=True`` call.
"""

from __future__ import annotations

import numpy as np

from .reference_loops import ReferenceLoop, hidden_activation, layer_type

BUILTIN = ("linear", "relu", "sigmoid", "tanh")


def build(spec, dtype: np.dtype, params: list, *, mode: str, guarded: bool = False) -> ReferenceLoop:
    import keras
    import tensorflow as tf

    layers: list = [keras.Input(tuple(spec.input_shape), dtype=dtype.name)]
    weights: list[np.ndarray] = []
    for index, (layer, p) in enumerate(zip(spec.layers, params)):
        kind = layer_type(layer)
        if kind == "flatten":
            layers.append(keras.layers.Flatten(dtype=dtype.name))
            continue
        if kind == "dropout":
            layers.append(keras.layers.Dropout(layer.rate, dtype=dtype.name))
            continue
        if kind.endswith("pool2d"):
            pool = keras.layers.MaxPooling2D if kind == "max_pool2d" else keras.layers.AveragePooling2D
            layers.append(pool(layer.pool_size, layer.strides, layer.padding, dtype=dtype.name))
            continue
        activation = hidden_activation(spec, index)
        builtin = activation if activation in BUILTIN else None
        layers.append(keras.layers.Conv2D(layer.filters, layer.kernel_size, layer.strides, layer.padding,
                                          activation=builtin, dtype=dtype.name) if kind == "conv2d" else
                      keras.layers.Dense(layer.units, activation=builtin, dtype=dtype.name))
        weights += [p["W"], p["b"]]
        if activation == "leaky_relu":
            layers.append(keras.layers.LeakyReLU(negative_slope=layer.negative_slope, dtype=dtype.name))
        elif activation == "prelu":
            shared = [1, 2] if kind == "conv2d" else None
            layers.append(keras.layers.PReLU(shared_axes=shared, dtype=dtype.name))
            weights.append(p["alpha"].reshape((1, 1, -1) if shared else (-1,)))
    net = keras.Sequential(layers)
    net.set_weights(weights)
    loss_fn = {"mse": keras.losses.MeanSquaredError(dtype=dtype.name),
               "cross_entropy": keras.losses.CategoricalCrossentropy(from_logits=True, dtype=dtype.name),
               "binary_cross_entropy": keras.losses.BinaryCrossentropy(from_logits=True, dtype=dtype.name)
               }[spec.loss]
    o = spec.optimizer
    optimizer = (keras.optimizers.Adam(o.lr, beta_1=o.beta1, beta_2=o.beta2, epsilon=o.eps) if o.name == "adam"
                 else keras.optimizers.SGD(o.lr, momentum=o.momentum if o.name == "momentum" else 0.0,
                                           nesterov=o.nesterov and o.name == "momentum"))

    optimizer.build(net.trainable_weights)

    def update(grads) -> None:
        optimizer.apply_gradients(zip(grads, net.trainable_weights))

    def train_step(X, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, net(X, training=True))
        grads = tape.gradient(loss, net.trainable_weights)
        if not guarded:
            update(grads)
            return loss
        finite = tf.reduce_all(tf.stack([tf.math.is_finite(loss), *(tf.reduce_all(tf.math.is_finite(g))
                                                                     for g in grads)]))
        tf.cond(finite, lambda: update(grads), lambda: None)
        return loss

    step = train_step if mode == "eager" else tf.function(train_step, jit_compile=mode == "xla")
    return ReferenceLoop(tf.convert_to_tensor, step, lambda X: net(X, training=False).numpy(), spec, dtype)
