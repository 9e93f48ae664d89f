"""Backends by name, imported lazily: a framework is imported only when its backend is built.

Each backend lives in ``backends/<name>/`` and exposes ``Model``, a subclass of :class:`backprop.model.Model`.
Extra backends (the test suite's fault-injection backend) can be added with :func:`register_backend` or, for
subprocesses, the environment variable ``BACKPROP_EXTRA_BACKENDS="name=package.module,..."``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .errors import BackendError
from .model import Model
from .spec import NetworkSpec, as_spec, canonical_dtype, check_number
from .validation import check_memory, check_representable, parameter_bytes


@dataclass(frozen=True)
class BackendInfo:
    """Where a backend lives, what it needs installed and which execution modes it offers (first = default)."""

    name: str
    module: str
    requires: tuple[str, ...] = ()
    extra: str = ""
    modes: tuple[str, ...] = ("eager",)


BACKENDS: dict[str, BackendInfo] = {
    info.name: info for info in (
        BackendInfo("numpy", "backends.numpy", (), "", ("eager", "reference")),
        BackendInfo("torch", "backends.torch", ("torch",), "torch", ("eager", "compile")),
        BackendInfo("tensorflow", "backends.tensorflow", ("tensorflow", "keras"), "tensorflow",
                    ("function", "eager", "xla")),
        BackendInfo("jax", "backends.jax", ("jax", "optax"), "jax", ("jit",)),
    )
}


def register_backend(info: BackendInfo) -> None:
    """Add (or replace) a backend entry."""
    BACKENDS[info.name] = info


def _register_from_environment() -> None:
    for item in filter(None, os.environ.get("BACKPROP_EXTRA_BACKENDS", "").split(",")):
        name, _, module = item.partition("=")
        register_backend(BackendInfo(name.strip(), module.strip(), modes=("eager",)))


_register_from_environment()


def backend_info(name: str) -> BackendInfo:
    """The registry entry for ``name``, or a :class:`BackendError` listing the known names."""
    if not isinstance(name, str) or name not in BACKENDS:
        raise BackendError(f"backend: unknown backend {name!r}; known backends are {', '.join(BACKENDS)}")
    return BACKENDS[name]


def is_installed(name: str) -> bool:
    """True when every package the backend needs can be found (nothing is imported)."""
    return all(importlib.util.find_spec(package) is not None for package in backend_info(name).requires)


def available_backends() -> list[str]:
    """Names of the backends whose frameworks are installed, in registry order."""
    return [name for name in BACKENDS if is_installed(name)]


def _install_hint(info: BackendInfo) -> str:
    root = Path(__file__).resolve().parent.parent
    return (f'pip install -c constraints.txt -e ".[{info.extra}]"' if (root / "constraints.txt").exists()
            else f'pip install "backprop[{info.extra}]"')


def load_backend(name: str, mode: str | None = None) -> type[Model]:
    """Import ``backends/<name>`` and return its ``Model`` class for ``mode`` (a backend whose modes are different
    classes lists them in ``MODELS``)."""
    info = backend_info(name)
    missing = [package for package in info.requires if importlib.util.find_spec(package) is None]
    if missing:
        raise BackendError(f"backend: {name!r} needs {', '.join(missing)}, which is not installed; "
                           f"install the {info.extra!r} extra: {_install_hint(info)}")
    module = importlib.import_module(info.module)
    return getattr(module, "MODELS", {}).get(mode, module.Model)


def build(spec: NetworkSpec | Mapping | str | Path, backend: str = "numpy", dtype: str | None = None, seed: int = 0,
          mode: str | None = None) -> Model:
    """Build ``spec`` on ``backend`` with the suite's seeded initial weights.

    ``backend`` may carry its mode as a label, ``"numpy:reference"``. ``dtype`` defaults to the spec's own and may be
    any name or NumPy dtype of float32/float64 (``np.float32``, ``"f4"``, ``"double"``); ``mode`` defaults to the
    backend's first mode (see :data:`BACKENDS`). Everything is
    checked before the framework is imported: the spec, its values in this dtype, and that its parameters fit in
    the memory available.
    """
    spec = as_spec(spec)
    if isinstance(backend, str) and ":" in backend:
        backend, label_mode = backend.split(":", 1)
        if mode is not None and mode != label_mode:
            raise BackendError(f"mode: the label gives mode {label_mode!r} and mode= gives {mode!r}")
        mode = label_mode
    info = backend_info(backend)
    dtype = spec.dtype if dtype is None else canonical_dtype(dtype)
    mode = info.modes[0] if mode is None else mode
    if mode not in info.modes:
        raise BackendError(f"mode: backend {backend!r} offers modes {', '.join(info.modes)}; got {mode!r}")
    seed = int(check_number("seed", seed, low=0, high=None, integer=True, error=BackendError))
    check_representable(spec, dtype)
    check_memory("layers", parameter_bytes(spec, dtype), f"a network of {spec.param_count():,} parameters "
                 f"(values, gradients and optimizer state in {dtype})", "make the layers smaller")
    return load_backend(backend, mode)(spec, dtype, seed, mode)
