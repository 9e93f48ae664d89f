"""The JAX minimal loops (see :mod:`benchmarks.reference_loops`): a pure forward function, ``jax.value_and_grad``
and an optax optimizer in one ``jax.jit`` step, as optax's "Getting started" writes it::

    @jax.jit                      # donate: jax.jit(step, donate_argnums=(0, 1))
    def step(params, opt_state, key, x, y):
        key, dropout_key = jax.random.split(key)
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y, dropout_key)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, key, loss

``guarded`` (the loop's twin that explains the suite's overhead, never a yardstick of its own) updates only when
the loss and every gradient are finite, through a ``jax.lax.cond``, as the suite's step does. ``donate`` passes
the parameters and optimizer state as donated buffers, as the suite's JAX step does, so XLA
updates them in place. Convolutions are ``lax.conv_general_dilated`` on NHWC images with HWIO kernels, pooling is
``lax.reduce_window``. Dropout draws its mask with ``jax.random.bernoulli`` from the step's key, split once per
dropout layer, as flax's ``nn.Dropout`` does (a network without dropout splits no key); the forward of ``logits``
gets no key and applies none.
"""

from __future__ import annotations

import numpy as np

from .reference_loops import ReferenceLoop, hidden_activation, layer_type


def layer_function(spec, index: int):
    """``f(params, a)`` for layer ``index``, its activation included (a dropout layer is :func:`dropout`)."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    layer = spec.layers[index]
    kind = layer_type(layer)
    if kind == "flatten":
        return lambda p, a: a.reshape(a.shape[0], -1)
    if kind.endswith("pool2d"):
        window, strides = (1, *layer.pool_size, 1), (1, *layer.strides, 1)
        if kind == "max_pool2d":
            return lambda p, a: lax.reduce_window(a, -jnp.inf, lax.max, window, strides, "VALID")
        area = float(np.prod(layer.pool_size))
        return lambda p, a: lax.reduce_window(a, 0.0, lax.add, window, strides, "VALID") / area
    if kind == "conv2d":
        def affine(p, a):
            return lax.conv_general_dilated(a, p["W"], layer.strides, layer.padding.upper(),
                                            dimension_numbers=("NHWC", "HWIO", "NHWC")) + p["b"]
    else:
        def affine(p, a):
            return a @ p["W"] + p["b"]
    activation = {"linear": lambda z, p: z, "relu": lambda z, p: jax.nn.relu(z),
                  "sigmoid": lambda z, p: jax.nn.sigmoid(z), "tanh": lambda z, p: jnp.tanh(z),
                  "leaky_relu": lambda z, p: jnp.where(z > 0, z, z * layer.negative_slope),
                  "prelu": lambda z, p: jnp.where(z > 0, z, p["alpha"] * z)}[hidden_activation(spec, index)]
    return lambda p, a: activation(affine(p, a), p)


def dropout(rate: float):
    """``f(a, key)``: inverted dropout with a mask drawn from ``key``; the identity when ``key`` is None."""
    import jax
    import jax.numpy as jnp

    def apply(a, key):
        if key is None:
            return a
        keep = jax.random.bernoulli(key, 1.0 - rate, a.shape)
        return jnp.where(keep, a / (1.0 - rate), 0.0)

    return apply


def build(spec, dtype: np.dtype, params: list, *, donate: bool, guarded: bool = False) -> ReferenceLoop:
    import jax

    if dtype == np.float64:
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax

    functions = [dropout(layer.rate) if layer_type(layer) == "dropout" else layer_function(spec, index)
                 for index, layer in enumerate(spec.layers)]

    def forward(params, X, key=None):
        a = X
        for p, layer, function in zip(params, spec.layers, functions):
            if layer_type(layer) != "dropout":
                a = function(p, a)
                continue
            layer_key = None
            if key is not None:
                key, layer_key = jax.random.split(key)
            a = function(a, layer_key)
        return a

    def loss_fn(params, X, y, key):
        out = forward(params, X, key)
        if spec.loss == "cross_entropy":
            return optax.softmax_cross_entropy(out, y).mean()
        if spec.loss == "binary_cross_entropy":
            return optax.sigmoid_binary_cross_entropy(out, y).mean()
        return jnp.mean((out - y) ** 2)

    o = spec.optimizer
    optimizer = (optax.adam(o.lr, b1=o.beta1, b2=o.beta2, eps=o.eps) if o.name == "adam"
                 else optax.sgd(o.lr, momentum=o.momentum if o.name == "momentum" else None,
                                nesterov=o.nesterov and o.name == "momentum"))

    masked = any(layer_type(layer) == "dropout" for layer in spec.layers)

    def update(grads, params, opt_state):
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    def skip(grads, params, opt_state):
        return params, opt_state

    def step(params, opt_state, key, X, y):
        key, dropout_key = jax.random.split(key) if masked else (key, None)
        loss, grads = jax.value_and_grad(loss_fn)(params, X, y, dropout_key)
        if not guarded:
            return *update(grads, params, opt_state), key, loss
        finite = jnp.isfinite(loss)
        for leaf in jax.tree_util.tree_leaves(grads):
            finite = finite & jnp.all(jnp.isfinite(leaf))
        return *jax.lax.cond(finite, update, skip, grads, params, opt_state), key, loss

    jitted = jax.jit(step, donate_argnums=(0, 1) if donate else ())
    live = {"params": jax.tree_util.tree_map(jnp.asarray, params), "key": jax.random.key(0)}
    live["opt_state"] = optimizer.init(live["params"])

    def train_step(X, y):
        live["params"], live["opt_state"], live["key"], loss = jitted(live["params"], live["opt_state"],
                                                                       live["key"], X, y)
        return loss

    logits = jax.jit(forward)
    return ReferenceLoop(jnp.asarray, train_step, lambda X: np.asarray(logits(live["params"], X)), spec, dtype)
