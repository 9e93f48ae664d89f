"""Minimal idiomatic training loops: the yardstick for the suite's own overhead, one per suite mode.

Each loop is what a user would write by hand from the framework's own documentation, in the same execution mode as
a suite mode (DESIGN.md section 5, "References like for like"):

| label | loop | compared with |
|---|---|---|
| ``torch-minimal:eager`` | ``nn.Sequential`` + ``torch.optim``, default implementation | torch:eager (idiomatic) |
| ``torch-minimal:eager-fused`` | the same with ``fused=True``, as the suite | torch:eager (like for like) |
| ``torch-minimal:compile`` | ``torch.compile(net)`` + fused ``torch.optim`` | torch:compile |
| ``tensorflow-minimal:eager`` | Keras ``Sequential``, ``tf.GradientTape``, Keras optimizer | tensorflow:eager |
| ``tensorflow-minimal:function`` | the same step in ``tf.function`` | tensorflow:function |
| ``tensorflow-minimal:xla`` | the same step in ``tf.function(jit_compile=True)`` | tensorflow:xla |
| ``jax-minimal:jit`` | a ``jax.jit`` step with optax, no donation | jax:jit (idiomatic) |
| ``jax-minimal:jit-donate`` | the same with ``donate_argnums``, as the suite | jax:jit (like for like) |

The loops build dense, conv2d (any padding), max/avg pooling, flatten and dropout layers (:func:`supports` says
which specs they take: pooling whose "same" padding pads nothing, dropout only in a spec whose ``dropout_rng`` is
"native", and sgd, momentum or adam without weight decay or schedule), load the suite's seeded initial weights, so
their final losses are comparable, and use the framework's own optimizer objects. Dropout is the framework's own
(``nn.Dropout``, Keras ``Dropout``, a ``jax.random.bernoulli`` mask from a key split every step, as flax does), so a
loop is like for like only with a suite model that draws native masks too; the suite's own masks are the same on
every backend and a loop cannot draw them. Images are NHWC as in the suite (DESIGN.md section 6); the torch loops
take them as NCHW, as torch's tutorials do, converted off the clock by ``prepare_batch``. The suite's TensorFlow
optimizers are TF ops on purpose (Keras' formulas differ from the spec, DESIGN.md section 2), so the TensorFlow
loops are Keras' idiomatic loop, and Keras' Adam (ε-hat) drifts slightly from the spec's by design. No loop has the
suite's non-finite guard: that is the point of a minimal loop. The JAX and TensorFlow loops have a guarded twin
(``guarded=True``: the same step, updating only when the loss and every gradient are finite, through the same kind
of conditional as the suite), timed beside them to say how much of the suite's overhead is that guard.

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
# Loops with a guarded twin: the suite's JAX and TensorFlow steps guard their update with a conditional in the
# compiled program, which the twin reproduces; torch's guard is host-side copies, not a loop idiom.
GUARDED_MODULES = ("reference_jax", "reference_tensorflow")


LAYER_TYPES = ("dense", "conv2d", "max_pool2d", "avg_pool2d", "flatten", "dropout")
OPTIMIZERS = ("sgd", "momentum", "adam")


@dataclass
class ReferenceLoop:
    """A built minimal loop: ``to_native`` converts a NumPy array, ``train_step`` returns a native loss, and
    ``layout`` puts a batch of features in the loop's own layout (NCHW images for torch)."""

    to_native: Callable[[np.ndarray], Any]
    train_step: Callable[[Any, Any], Any]
    logits: Callable[[Any], np.ndarray]
    spec: Any
    dtype: np.dtype
    layout: Callable[[np.ndarray], np.ndarray] = np.ascontiguousarray

    def features(self, X: np.ndarray) -> Any:
        """X in the model dtype and the loop's layout, as a native tensor."""
        return self.to_native(np.ascontiguousarray(self.layout(np.asarray(X, dtype=self.dtype))))

    def prepare_batch(self, X: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        """X as :meth:`features`; integer labels as one-hot rows (cross_entropy), other targets as (N, k)."""
        y = np.asarray(y)
        if self.spec.loss == "cross_entropy" and y.ndim == 1:
            y = np.eye(self.spec.output_dim, dtype=self.dtype)[y]
        return self.features(X), self.to_native(np.ascontiguousarray(y, dtype=self.dtype).reshape(len(X), -1))


def framework_of(backend: str) -> str:
    """``jax-minimal`` → ``jax``; a suite backend, ``sklearn`` and unknown (test) backends are their own."""
    return next((ref.framework for ref in REFERENCES.values() if ref.backend == backend), backend)


def layer_type(layer) -> str:
    return getattr(layer, "type", "dense")


def hidden_activation(spec, index: int) -> str:
    """The activation applied inside the network (the output one is folded into a from-logits loss)."""
    last = index == len(spec.layers) - 1
    return "linear" if last and spec.loss_from_logits else spec.layers[index].activation


def padding_of(layer, shape: tuple[int, ...]) -> tuple[tuple[int, int], tuple[int, int]]:
    """(rows, columns) padding (before, after) of a windowed layer on an (H, W, C) input, TensorFlow's rule."""
    from backprop.spec.layers import same_padding

    window = layer.kernel_size if layer_type(layer) == "conv2d" else layer.pool_size
    if layer.padding != "same":
        return (0, 0), (0, 0)
    rows, cols = (same_padding(n, k, s) for n, k, s in zip(shape[:2], window, layer.strides))
    return rows, cols


def supports(spec) -> bool:
    """True when the minimal loops can build ``spec``: the layer types of :data:`LAYER_TYPES`, pooling that pads
    nothing, dropout only with ``dropout_rng`` "native", and sgd, momentum or adam without weight decay, schedule
    or ``native``."""
    o = spec.optimizer
    plain = (o.name in OPTIMIZERS and not getattr(o, "weight_decay", 0.0) and getattr(o, "schedule", None) is None
             and not o.native)
    shapes = getattr(spec, "input_shapes", [None] * len(spec.layers))
    native_masks = getattr(spec, "dropout_rng", "suite") == "native"
    layers_ok = all(layer_type(layer) in LAYER_TYPES and not (
        layer_type(layer).endswith("pool2d") and padding_of(layer, shape) != ((0, 0), (0, 0))) and not (
        layer_type(layer) == "dropout" and not native_masks)
        for layer, shape in zip(spec.layers, shapes))
    return plain and layers_ok


def build_reference(label: str, spec, dtype: str, seed: int, guarded: bool = False) -> ReferenceLoop:
    """The minimal loop ``label`` for ``spec``, starting from the suite's seeded weights; with ``guarded``, its
    twin that updates only when the loss and every gradient are finite, as the suite does (loops of
    :data:`GUARDED_MODULES` only)."""
    from backprop.init import init_params

    reference = REFERENCES[label]
    np_dtype = np.dtype(dtype)
    builder = importlib.import_module(f"{__package__}.{reference.module}").build
    options = {**dict(reference.options), **({"guarded": True} if guarded else {})}
    return builder(spec, np_dtype, init_params(spec, np_dtype, seed), **options)
