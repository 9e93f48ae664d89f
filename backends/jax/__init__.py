"""The JAX backend: a pure function of a parameter pytree, differentiated by ``jax.value_and_grad``, stepped by optax."""

from .model import Model

__all__ = ["Model"]
