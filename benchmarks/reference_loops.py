"""Minimal idiomatic training loops: the yardstick for the suite's own overhead, one per suite mode.

Each loop is what a user would write by hand from the framework's own documentation, in the same execution mode as
a suite mode (DESIGN.md section 5, "References like for like"):

| label | loop | suite mode it is compared with |
|---|---|---|
| ``torch-minimal:eager`` | ``nn.Sequential`` + ``torch.optim`` with its default implementation | torch:eager (idiomatic) |
| ``torch-minimal:eager-fused`` | the same with ``fused=True``, the suite's optimizer implementation | torch:eager (like for like) |
| ``torch-minimal:compile`` | ``torch.compile(net)`` + fused ``torch.optim`` | torch:compile |
| ``tensorflow-minimal:eager`` | Keras ``Sequential``, ``tf.GradientTape``, a Keras optimizer, no ``tf.function`` | tensorflow:eager |
| ``tensorflow-minimal:function`` | the same step in ``tf.function`` | tensorflow:function |
| ``tensorflow-minimal:xla`` | the same step in ``tf.function(jit_compile=True)`` | tensorflow:xla |
| ``jax-minimal:jit`` | a ``jax.jit`` step with optax, no donation | jax:jit (idiomatic) |
| ``jax-minimal:jit-donate`` | the same with ``donate_argnums``, as the suite's step | jax:jit (like for like) |

The loops load the suite's seeded initial weights, so their final losses are comparable, and use the framework's
own optimizer objects. The suite's TensorFlow optimizers are TF ops on purpose (Keras' formulas differ from the
spec, DESIGN.md section 2), so the TensorFlow loops are Keras' idiomatic loop, and Keras' Adam (ε-hat) drifts
slightly from the spec's by design. No loop has the suite's non-finite guard: that is the point of a minimal loop.

:func:`build_reference` returns a :class:`ReferenceLoop` with the calls the harness uses on a suite model:
``prepare_batch(X, y)``, ``train_step(Xn, yn)`` (a native loss) and ``logits(Xn)``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class Reference:
    """One minimal loop: its label parts, the framework and suite mode it mirrors, and how it compares."""

    backend: str
    mode: str
    framework: str
    suite_mode: str
    like_for_like: bool
    module: str
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        return f"{self.backend}:{self.mode}"

    @property
    def suite_label(self) -> str:
        return f"{self.framework}:{self.suite_mode}"


REFERENCES: dict[str, Reference] = {ref.label: ref for ref in (
    Reference("torch-minimal", "eager", "torch", "eager", False, "reference_torch", (("fused", False),)),
    Reference("torch-minimal", "eager-fused", "torch", "eager", True, "reference_torch", (("fused", True),)),
    Reference("torch-minimal", "compile", "torch", "compile", True, "reference_torch",
              (("fused", True), ("compiled", True))),
    Reference("tensorflow-minimal", "eager", "tensorflow", "eager", True, "reference_tensorflow", (("mode", "eager"),)),
    Reference("tensorflow-minimal", "function", "tensorflow", "function", True, "reference_tensorflow",
              (("mode", "function"),)),
    Reference("tensorflow-minimal", "xla", "tensorflow", "xla", True, "reference_tensorflow", (("mode", "xla"),)),
    Reference("jax-minimal", "jit", "jax", "jit", False, "reference_jax", (("donate", False),)),
    Reference("jax-minimal", "jit-donate", "jax", "jit", True, "reference_jax", (("donate", True),)),
)}
REFERENCE_BACKENDS = tuple(dict.fromkeys(ref.backend for ref in REFERENCES.values()))


@dataclass
class ReferenceLoop:
    """A built minimal loop: ``to_native`` converts a NumPy array, ``train_step`` returns a native loss."""

    to_native: Callable[[np.ndarray], Any]
    train_step: Callable[[Any, Any], Any]
    logits: Callable[[Any], np.ndarray]
    spec: Any
    dtype: np.dtype

    def prepare_batch(self, X: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        """X in the model dtype; integer labels as one-hot rows (cross_entropy), other targets as (N, k)."""
        X = np.ascontiguousarray(X, dtype=self.dtype)
        y = np.asarray(y)
        if self.spec.loss == "cross_entropy" and y.ndim == 1:
            y = np.eye(self.spec.output_dim, dtype=self.dtype)[y]
        return self.to_native(X), self.to_native(np.ascontiguousarray(y, dtype=self.dtype).reshape(len(X), -1))


def hidden_activation(spec, index: int) -> str:
    """The activation applied inside the network (the output one is folded into a from-logits loss)."""
    last = index == len(spec.layers) - 1
    return "linear" if last and spec.loss_from_logits else spec.layers[index].activation


def supports(spec) -> bool:
    """True when every layer is dense: the minimal loops build dense networks only."""
    return all(getattr(layer, "type", "dense") == "dense" for layer in spec.layers)


def build_reference(label: str, spec, dtype: str, seed: int) -> ReferenceLoop:
    """The minimal loop ``label`` for ``spec``, starting from the suite's seeded weights."""
    from backprop.init import init_params

    reference = REFERENCES[label]
    np_dtype = np.dtype(dtype)
    builder = importlib.import_module(f"{__package__}.{reference.module}").build
    return builder(spec, np_dtype, init_params(spec, np_dtype, seed), **dict(reference.options))
