"""The TensorFlow backend: Keras 3 layers on the TensorFlow backend, ``tf.GradientTape``, updates in TF ops.

Keras picks its backend once, when it is first imported, from ``KERAS_BACKEND``. This package sets it to
``tensorflow`` when it is unset, before any of its modules imports Keras, and refuses to run on a Keras that was
already imported with another backend (its layers would then not produce TensorFlow tensors).
"""

import os
import sys

from backprop.errors import BackendError

os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _require_tensorflow_keras() -> None:
    """Raise :class:`BackendError` when Keras is (or will be) running on a backend other than TensorFlow."""
    if "keras" in sys.modules:
        backend = sys.modules["keras"].backend.backend()
        where = "was already imported with"
    else:
        backend, where = os.environ["KERAS_BACKEND"], "is configured (KERAS_BACKEND) for"
    if backend != "tensorflow":
        raise BackendError(f"backend: 'tensorflow' needs Keras on its TensorFlow backend, but Keras {where} the "
                           f"{backend!r} backend; start a fresh process with KERAS_BACKEND=tensorflow")


_require_tensorflow_keras()

from .model import Model  # noqa: E402  (Keras may be imported only after the backend check)

__all__ = ["Model"]
