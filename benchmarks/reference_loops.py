"""Minimal idiomatic training loops, the yardstick for the suite's own abstraction overhead.

Each is what a user would write by hand with one framework: ``torch-minimal`` (``torch.nn.Sequential`` +
``torch.optim``), ``jax-minimal`` (a ``jax.jit`` step with ``optax``), ``tensorflow-minimal`` (a ``tf.function``
step with a Keras ``Sequential`` and a Keras optimizer). They load the suite's seeded initial weights, so their
final losses are comparable, but they use the framework's own optimizer object: Keras' Adam uses its ε-hat form
(DESIGN.md section 2), so tensorflow-minimal's final loss drifts slightly from numpy's by design. No non-finite
guard: that is the point of a minimal loop.

``build_reference(name, spec, dtype, seed)`` returns a :class:`ReferenceLoop` with the same three calls the
harness uses on a suite model: ``prepare_batch(X, y)``, ``train_step(Xn, yn)`` (native loss) and ``logits(Xn)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from backprop.init import init_params
from backprop.spec import NetworkSpec
from backprop.validation import check_features, check_targets


@dataclass
class ReferenceLoop:
    to_native: Callable[[np.ndarray], Any]
    train_step: Callable[[Any, Any], Any]
    logits: Callable[[Any], np.ndarray]
    spec: NetworkSpec
    dtype: np.dtype

    def prepare_batch(self, X: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        X = check_features(X, self.spec, self.dtype)
        y = check_targets(y, self.spec, X.shape[0], self.dtype)
        return self.to_native(X), self.to_native(y)


def _activation_of(spec: NetworkSpec, index: int) -> str:
    """The activation applied inside the network (the output one is folded into a from-logits loss)."""
    last = index == len(spec.layers) - 1
    return "linear" if last and spec.loss_from_logits else spec.layers[index].activation


def _torch(spec: NetworkSpec, dtype: np.dtype, params: list) -> ReferenceLoop:
    import torch
    from torch import nn

    tdtype = getattr(torch, dtype.name)
    modules: list[nn.Module] = []
    for index, (layer, p) in enumerate(zip(spec.layers, params)):
        linear = nn.Linear(*p["W"].shape, dtype=tdtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(p["W"].T.copy()))
            linear.bias.copy_(torch.from_numpy(p["b"]))
        modules.append(linear)
        activation = _activation_of(spec, index)
        if activation == "prelu":
            prelu = nn.PReLU(layer.units, dtype=tdtype)
            with torch.no_grad():
                prelu.weight.copy_(torch.from_numpy(p["alpha"]))
            modules.append(prelu)
        elif activation != "linear":
            modules.append({"relu": nn.ReLU(), "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(),
                            "leaky_relu": nn.LeakyReLU(layer.negative_slope)}[activation])
    net = nn.Sequential(*modules)
    loss_fn = {"mse": nn.MSELoss(), "cross_entropy": nn.CrossEntropyLoss(),
               "binary_cross_entropy": nn.BCEWithLogitsLoss()}[spec.loss]
    o = spec.optimizer
    optimizer = (torch.optim.Adam(net.parameters(), lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps) if o.name == "adam"
                 else torch.optim.SGD(net.parameters(), lr=o.lr, momentum=o.momentum if o.name == "momentum" else 0.0,
                                      nesterov=o.nesterov and o.name == "momentum"))

    def train_step(X, y):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(net(X), y)
        loss.backward()
        optimizer.step()
        return loss.detach()

    def logits(X):
        with torch.no_grad():
            return net(X).numpy()

    return ReferenceLoop(torch.from_numpy, train_step, logits, spec, dtype)


def _jax(spec: NetworkSpec, dtype: np.dtype, params: list) -> ReferenceLoop:
    import jax

    if dtype == np.float64:
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax

    activations = [_activation_of(spec, i) for i in range(len(spec.layers))]
    elementwise = {"linear": lambda z, layer, spec_layer: z,
                   "relu": lambda z, layer, spec_layer: jax.nn.relu(z),
                   "sigmoid": lambda z, layer, spec_layer: jax.nn.sigmoid(z),
                   "tanh": lambda z, layer, spec_layer: jnp.tanh(z),
                   "leaky_relu": lambda z, layer, spec_layer: jnp.where(z > 0, z, z * spec_layer.negative_slope),
                   "prelu": lambda z, layer, spec_layer: jnp.where(z > 0, z, layer["alpha"] * z)}

    def forward(p, X):
        a = X
        for layer, activation, spec_layer in zip(p, activations, spec.layers):
            a = elementwise[activation](a @ layer["W"] + layer["b"], layer, spec_layer)
        return a

    def loss_fn(p, X, y):
        out = forward(p, X)
        if spec.loss == "cross_entropy":
            return optax.softmax_cross_entropy(out, y).mean()
        if spec.loss == "binary_cross_entropy":
            return optax.sigmoid_binary_cross_entropy(out, y).mean()
        return jnp.mean((out - y) ** 2)

    o = spec.optimizer
    optimizer = (optax.adam(o.lr, b1=o.beta1, b2=o.beta2, eps=o.eps) if o.name == "adam"
                 else optax.sgd(o.lr, momentum=o.momentum if o.name == "momentum" else None,
                                nesterov=o.nesterov and o.name == "momentum"))

    @jax.jit
    def step(p, state, X, y):
        loss, grads = jax.value_and_grad(loss_fn)(p, X, y)
        updates, state = optimizer.update(grads, state, p)
        return optax.apply_updates(p, updates), state, loss

    live = {"params": jax.tree_util.tree_map(jnp.asarray, params)}
    live["state"] = optimizer.init(live["params"])

    def train_step(X, y):
        live["params"], live["state"], loss = step(live["params"], live["state"], X, y)
        return loss

    logits = jax.jit(forward)
    return ReferenceLoop(jnp.asarray, train_step, lambda X: np.asarray(logits(live["params"], X)), spec, dtype)


def _tensorflow(spec: NetworkSpec, dtype: np.dtype, params: list) -> ReferenceLoop:
    import keras
    import tensorflow as tf

    layers: list = [keras.Input((spec.input_dim,), dtype=dtype.name)]
    weights: list[np.ndarray] = []
    for index, (layer, p) in enumerate(zip(spec.layers, params)):
        activation = _activation_of(spec, index)
        builtin = activation in ("linear", "relu", "sigmoid", "tanh")
        layers.append(keras.layers.Dense(layer.units, activation=activation if builtin else None, dtype=dtype.name))
        weights += [p["W"], p["b"]]
        if activation == "leaky_relu":
            layers.append(keras.layers.LeakyReLU(negative_slope=layer.negative_slope, dtype=dtype.name))
        elif activation == "prelu":
            layers.append(keras.layers.PReLU(dtype=dtype.name))
            weights.append(p["alpha"])
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

    @tf.function
    def train_step(X, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, net(X, training=True))
        grads = tape.gradient(loss, net.trainable_variables)
        optimizer.apply_gradients(zip(grads, net.trainable_variables))
        return loss

    return ReferenceLoop(tf.convert_to_tensor, train_step, lambda X: net(X, training=False).numpy(), spec, dtype)


BUILDERS = {"torch-minimal": _torch, "jax-minimal": _jax, "tensorflow-minimal": _tensorflow}


def build_reference(name: str, spec: NetworkSpec, dtype: str, seed: int) -> ReferenceLoop:
    """The minimal loop ``name`` for ``spec``, starting from the suite's seeded weights."""
    np_dtype = np.dtype(dtype)
    return BUILDERS[name](spec, np_dtype, init_params(spec, np_dtype, seed))
