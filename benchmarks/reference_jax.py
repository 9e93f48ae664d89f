"""The JAX minimal loops (see :mod:`benchmarks.reference_loops`): a pure forward function, ``jax.value_and_grad``
and an optax optimizer in one ``jax.jit`` step, as optax's "Getting started" writes it::

    @jax.jit                      # donate: jax.jit(step, donate_argnums=(0, 1))
    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

``donate`` passes the parameters and optimizer state as donated buffers, as the suite's JAX step does, so XLA
updates them in place.
"""

from __future__ import annotations

import numpy as np

from .reference_loops import ReferenceLoop, hidden_activation


def build(spec, dtype: np.dtype, params: list, *, donate: bool) -> ReferenceLoop:
    import jax

    if dtype == np.float64:
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax

    activations = [hidden_activation(spec, i) for i in range(len(spec.layers))]
    elementwise = {"linear": lambda z, p, layer: z,
                   "relu": lambda z, p, layer: jax.nn.relu(z),
                   "sigmoid": lambda z, p, layer: jax.nn.sigmoid(z),
                   "tanh": lambda z, p, layer: jnp.tanh(z),
                   "leaky_relu": lambda z, p, layer: jnp.where(z > 0, z, z * layer.negative_slope),
                   "prelu": lambda z, p, layer: jnp.where(z > 0, z, p["alpha"] * z)}

    def forward(params, X):
        a = X
        for p, activation, layer in zip(params, activations, spec.layers):
            a = elementwise[activation](a @ p["W"] + p["b"], p, layer)
        return a

    def loss_fn(params, X, y):
        out = forward(params, X)
        if spec.loss == "cross_entropy":
            return optax.softmax_cross_entropy(out, y).mean()
        if spec.loss == "binary_cross_entropy":
            return optax.sigmoid_binary_cross_entropy(out, y).mean()
        return jnp.mean((out - y) ** 2)

    o = spec.optimizer
    optimizer = (optax.adam(o.lr, b1=o.beta1, b2=o.beta2, eps=o.eps) if o.name == "adam"
                 else optax.sgd(o.lr, momentum=o.momentum if o.name == "momentum" else None,
                                nesterov=o.nesterov and o.name == "momentum"))

    def step(params, opt_state, X, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, X, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    jitted = jax.jit(step, donate_argnums=(0, 1) if donate else ())
    live = {"params": jax.tree_util.tree_map(jnp.asarray, params)}
    live["opt_state"] = optimizer.init(live["params"])

    def train_step(X, y):
        live["params"], live["opt_state"], loss = jitted(live["params"], live["opt_state"], X, y)
        return loss

    logits = jax.jit(forward)
    return ReferenceLoop(jnp.asarray, train_step, lambda X: np.asarray(logits(live["params"], X)), spec, dtype)
