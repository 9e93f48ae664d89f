"""The TensorFlow backend: Keras 3 layers on the TensorFlow backend, ``tf.GradientTape``, updates in TF ops.

Keras picks its backend once, when it is first imported, from ``KERAS_BACKEND`` or ``~/.keras/keras.json`` (default
``tensorflow``). This package never sets the variable for the user's process; it checks, before any of its modules
imports Keras, that Keras is (or will be) on its TensorFlow backend, and otherwise raises a
:class:`~backprop.errors.BackendError` saying how to start the process.
"""

import json
import os
import sys
from pathlib import Path

from backprop.errors import BackendError


def _configured_keras_backend() -> str:
    """The backend a first ``import keras`` would choose: ``KERAS_BACKEND``, else keras.json, else tensorflow."""
    if "KERAS_BACKEND" in os.environ:
        return os.environ["KERAS_BACKEND"]
    config = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "keras.json"
    try:
        return json.loads(config.read_text()).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def _require_tensorflow_keras() -> None:
    """Raise :class:`BackendError` when Keras is (or will be) running on a backend other than TensorFlow."""
    if "keras" in sys.modules:
        backend = sys.modules["keras"].backend.backend()
        where = "was already imported with"
    else:
        backend, where = _configured_keras_backend(), "is configured (KERAS_BACKEND or keras.json) for"
    if backend != "tensorflow":
        raise BackendError(f"backend: 'tensorflow' needs Keras on its TensorFlow backend, but Keras {where} the "
                           f"{backend!r} backend; start a fresh process with KERAS_BACKEND=tensorflow")


_require_tensorflow_keras()

from .model import Model  # noqa: E402  (Keras may be imported only after the backend check)

__all__ = ["Model"]
