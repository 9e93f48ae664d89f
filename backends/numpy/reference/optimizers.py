"""The optimizers as one plain update per parameter p with gradient g (DESIGN.md sections 2 and 7).

Step t = 0, 1, … uses the scheduled learning rate lr_t = ``config.lr_at(t)``. Coupled weight decay (sgd, momentum,
rmsprop, adagrad) first sets g ← g + wd·p; adamw decays decoupled, p ← p·(1 − lr_t·wd), before its Adam step.
"""

from __future__ import annotations

import numpy as np


def sgd(p, g, slots, lr, t, c):
    """p ← p − lr·g"""
    return p - lr * g


def momentum(p, g, slots, lr, t, c):
    """v ← μ·v + g;  p ← p − lr·v   (nesterov: p ← p − lr·(g + μ·v))"""
    slots["velocity"] = c.momentum * slots["velocity"] + g
    return p - lr * (g + c.momentum * slots["velocity"] if c.nesterov else slots["velocity"])


def adam(p, g, slots, lr, t, c):
    """m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;  p ← p − lr·m̂/(√v̂ + ε),  m̂ = m/(1 − β1ᵗ), v̂ = v/(1 − β2ᵗ)"""
    slots["m"] = c.beta1 * slots["m"] + (1 - c.beta1) * g
    slots["v"] = c.beta2 * slots["v"] + (1 - c.beta2) * g * g
    m_hat, v_hat = slots["m"] / (1 - c.beta1 ** (t + 1)), slots["v"] / (1 - c.beta2 ** (t + 1))
    return p - lr * m_hat / (np.sqrt(v_hat) + c.eps)


def adamw(p, g, slots, lr, t, c):
    """p ← p·(1 − lr·wd), then the Adam step"""
    return adam(p * (1 - lr * c.weight_decay), g, slots, lr, t, c)


def rmsprop(p, g, slots, lr, t, c):
    """v ← ρ·v + (1 − ρ)·g²;  p ← p − lr·g/(√v + ε)
    centered: ḡ ← ρ·ḡ + (1 − ρ)·g and the denominator is √(v − ḡ²) + ε;
    momentum μ > 0: buf ← μ·buf + g/denominator and p ← p − lr·buf."""
    slots["square_avg"] = c.rho * slots["square_avg"] + (1 - c.rho) * g * g
    variance = slots["square_avg"]
    if c.centered:
        slots["grad_avg"] = c.rho * slots["grad_avg"] + (1 - c.rho) * g
        variance = variance - slots["grad_avg"] ** 2
    step = g / (np.sqrt(variance) + c.eps)
    if c.momentum > 0:
        slots["momentum_buffer"] = c.momentum * slots["momentum_buffer"] + step
        step = slots["momentum_buffer"]
    return p - lr * step


def adagrad(p, g, slots, lr, t, c):
    """s ← s + g²;  p ← p − lr·g/(√s + ε)"""
    slots["sum"] = slots["sum"] + g * g
    return p - lr * g / (np.sqrt(slots["sum"]) + c.eps)


UPDATES = {"sgd": sgd, "momentum": momentum, "adam": adam, "adamw": adamw, "rmsprop": rmsprop, "adagrad": adagrad}
SLOTS = {"sgd": (), "momentum": ("velocity",), "adam": ("m", "v"), "adamw": ("m", "v"),
         "rmsprop": ("square_avg", "grad_avg", "momentum_buffer"), "adagrad": ("sum",)}
COUPLED_DECAY = ("sgd", "momentum", "rmsprop", "adagrad")


class Optimizer:
    """Keeps each parameter's slots and the step count; :meth:`step` updates every parameter once."""

    def __init__(self, config, params: list[dict]):
        self.config, self.t = config, 0
        start = config.initial_accumulator if config.name == "adagrad" else 0.0
        self.slots = [{name: {slot: np.full_like(value, start) for slot in SLOTS[config.name]}
                       for name, value in layer.items()} for layer in params]

    def step(self, params: list[dict], grads: list[dict]) -> None:
        config, lr = self.config, self.config.lr_at(self.t)
        update = UPDATES[config.name]
        for layer_params, layer_grads, layer_slots in zip(params, grads, self.slots):
            for name, g in layer_grads.items():
                p = layer_params[name]
                if config.name in COUPLED_DECAY and config.weight_decay:
                    g = g + config.weight_decay * p
                layer_params[name] = update(p, g, layer_slots[name], lr, self.t, config)
        self.t += 1
