"""``convert``: a Keras or torch model file as a spec file (and its parameters).

    python -m backprop convert model.keras --out net.json [--params params.npz]
    python -m backprop convert model.pt --input-shape 28,28,1 --allow-pickle --out net.json

A ``.keras`` file is read with ``keras.saving.load_model``. A ``.pt``/``.pth`` file holding a whole ``nn.Sequential``
can only be read by unpickling it, which runs code from the file: that needs ``--allow-pickle`` (for files you
trust). The parameters go to a ``.npz`` (``param/<layer>/<name>``), loadable with ``set_params``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..errors import InputError


def convert(args: argparse.Namespace) -> None:
    from ..convert import from_keras, from_torch

    path = Path(args.model)
    if not path.is_file():
        raise InputError(f"model: no such file {str(path)!r}")
    if path.suffix == ".keras":
        import keras

        try:
            model = keras.saving.load_model(path)
        except (ValueError, OSError) as error:
            raise InputError(f"model: {str(path)!r} is not a readable .keras file ({error})") from None
        spec, params = from_keras(model, loss=args.loss)
    elif path.suffix in (".pt", ".pth"):
        if not args.allow_pickle:
            raise InputError(f"model: reading {str(path)!r} unpickles it, which runs code from the file; pass "
                             f"--allow-pickle if you trust it")
        if not args.input_shape:
            raise InputError("input-shape: a torch model needs --input-shape, e.g. 28,28,1 or 784")
        import torch

        module = torch.load(path, weights_only=False)
        spec, params = from_torch(module, _shape(args.input_shape), loss=args.loss)
    else:
        raise InputError(f"model: expected a .keras, .pt or .pth file, got {str(path)!r}")
    spec.to_json(args.out)
    print(f"wrote {args.out}")
    if args.params:
        np.savez(args.params, **{f"param/{index}/{name}": value for index, layer in enumerate(params)
                                 for name, value in layer.items()})
        print(f"wrote {args.params}")
    print(spec.summary_text())


def _shape(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(size) for size in text.split(","))
    except ValueError:
        raise InputError(f"input-shape: expected sizes joined by commas, e.g. 28,28,1; got {text!r}") from None
