"""Save a model to one file and load it on any backend: ``model.save(path)``, ``backprop.load(path, backend=...)``.

The file is a NumPy ``.npz`` archive (read with ``allow_pickle=False``: no pickle anywhere) holding:

| key | value |
|---|---|
| ``format`` | "backprop-model-v1" |
| ``spec`` | the spec as JSON text |
| ``dtype``, ``seed`` | the model dtype and seed |
| ``param/<layer>/<name>`` | every parameter in the suite's layout (running statistics included) |
| ``optimizer/step`` | the optimizer's step count |
| ``optimizer/<slot>/<layer>/<name>`` | the optimizer's slots in the suite's form (:mod:`.optimizer_state`) |
| ``generators`` | JSON: the states of the model's shuffle and dropout-mask generators |

Loaded on another backend, the model carries on exactly where it stopped, to rounding. A missing, corrupt,
truncated or foreign file raises :class:`~backprop.errors.InputError` saying which.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import BackpropError, InputError
from .spec import as_spec

FORMAT = "backprop-model-v1"


def save(model, path: str | Path) -> Path:
    """Write ``model`` to ``path`` (a ``.npz`` file), atomically."""
    path = Path(path)
    if path.suffix != ".npz":
        raise InputError(f"path: a model file must end in .npz, got {str(path)!r}")
    state = model.get_optimizer_state()
    arrays: dict[str, np.ndarray] = {"format": np.array(FORMAT), "spec": np.array(model.spec.to_json()),
                                     "dtype": np.array(model.dtype.name), "seed": np.array(model.seed),
                                     "optimizer/step": np.array(state["step"]),
                                     "generators": np.array(json.dumps(_generators(model)))}
    for index, layer in enumerate(model.get_params()):
        arrays.update({f"param/{index}/{name}": value for name, value in layer.items()})
    for slot, layers in state["slots"].items():
        for index, layer in enumerate(layers):
            arrays.update({f"optimizer/{slot}/{index}/{name}": value for name, value in layer.items()})
    temporary = path.with_name(f".{path.name}.tmp.npz")
    np.savez(temporary, **arrays)
    os.replace(temporary, path)
    return path


def load(path: str | Path, backend: str = "numpy", mode: str | None = None):
    """The model saved in ``path``, built on ``backend`` (any backend; ``"name:mode"`` labels too)."""
    from .registry import build

    arrays = _read(Path(path))
    spec = as_spec(str(arrays["spec"]))
    model = build(spec, backend, str(arrays["dtype"]), int(arrays["seed"]), mode)
    layers = range(len(spec.layers))
    try:
        model.set_params([{name: arrays[f"param/{index}/{name}"] for name in shapes}
                          for index, shapes in zip(layers, spec.param_shapes())])
        from .optimizer_state import slot_names

        model.set_optimizer_state({"step": int(arrays["optimizer/step"]), "slots": {
            slot: [{name: arrays[f"optimizer/{slot}/{index}/{name}"] for name in shapes}
                   for index, shapes in zip(layers, spec.trainable_shapes())] for slot in slot_names(spec.optimizer)}})
    except KeyError as missing:
        raise InputError(f"path: {str(path)!r} lacks {missing} for its own spec; the file is damaged") from None
    except BackpropError as error:
        raise InputError(f"path: {str(path)!r} does not hold a consistent model: {error}") from None
    _restore_generators(model, json.loads(str(arrays["generators"])))
    return model


def _read(path: Path) -> dict[str, Any]:
    if path.suffix != ".npz":
        raise InputError(f"path: a model file ends in .npz, got {str(path)!r}")
    if not path.is_file():
        raise InputError(f"path: no such file {str(path)!r}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise InputError(f"path: {str(path)!r} is not a readable .npz archive (truncated or corrupt: "
                         f"{type(error).__name__}: {error})") from None
    if "format" not in arrays or str(arrays["format"]) != FORMAT:
        found = str(arrays["format"]) if "format" in arrays else "no format key"
        raise InputError(f"path: {str(path)!r} is not a backprop model file (expected format {FORMAT!r}, "
                         f"found {found})")
    missing = [key for key in ("spec", "dtype", "seed", "optimizer/step", "generators") if key not in arrays]
    if missing:
        raise InputError(f"path: {str(path)!r} lacks {', '.join(missing)}; the file is damaged")
    return arrays


def _generators(model) -> dict:
    masks = model.mask_generator
    return {"shuffle": model.shuffle_generator.bit_generator.state,
            "masks": None if masks is None else masks.bit_generator.state}


def _restore_generators(model, states: dict) -> None:
    model.shuffle_generator.bit_generator.state = states["shuffle"]
    if states["masks"] is not None and model.mask_generator is not None:
        model.mask_generator.bit_generator.state = states["masks"]
