"""A deliberately failing backend for the benchmark harness tests.

Registered in subprocesses with ``BACKPROP_EXTRA_BACKENDS="faulty=tests.faulty_backend"``. It is the NumPy model,
except that its train step fails as ``BACKPROP_FAULT`` says: ``raise`` (an exception, the default), ``abort``
(``os.abort()``: SIGABRT, a crash with no Python traceback), ``hang`` (sleeps for an hour) or ``none`` (works).
"""

from __future__ import annotations

import os
import time

from backends.numpy.model import Model as NumpyModel


class Model(NumpyModel):
    backend = "faulty"

    def _train_step(self, X, y, masks):
        fault = os.environ.get("BACKPROP_FAULT", "raise")
        if fault == "raise":
            raise RuntimeError("faulty backend: deliberate failure")
        if fault == "abort":
            os.abort()
        if fault == "hang":
            time.sleep(3600)
        return super()._train_step(X, y, masks)
