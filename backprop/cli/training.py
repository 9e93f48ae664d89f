"""``train``: a preset, or a spec file on a data file, with a progress bar and the final metrics.

    python -m backprop train --preset digits --backend jax
    python -m backprop train --spec net.json --data train.csv --target label [--test-split 0.2]
                             [--validation-split 0.1] [--backend jax] [--epochs 20] [--batch-size 64]
                             [--save model.npz]
"""

from __future__ import annotations

import argparse

from ..presets import get_preset, train_preset


def progress_bar(total: int, title: str):
    """A tqdm bar over epochs and the ``progress(epoch, record)`` callback that moves it."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=title, unit="epoch")

    def progress(epoch: int, record: dict[str, float]) -> None:
        bar.set_postfix({key: f"{value:.4g}" for key, value in record.items()}, refresh=False)
        bar.update(1)

    return bar, progress


def train(args: argparse.Namespace) -> None:
    if args.spec:
        return train_on_file(args)
    preset = get_preset(args.preset)
    bar, progress = progress_bar(preset.epochs, f"{preset.name} on {args.backend}")
    with bar:
        model, history, outcome = train_preset(args.preset, args.backend, args.dtype, args.mode, progress)
    final = {key: values[-1] for key, values in history.items()}
    print(f"{model!r}\nfinal training " + ", ".join(f"{k} {v:.6g}" for k, v in final.items()))
    print(f"{outcome.summary}\ngoal: {preset.goal}: {'reached' if outcome.passed else 'NOT reached'}")
    if args.save:
        print(f"saved {model.save(args.save)}")
    if not outcome.passed:
        raise SystemExit(1)


def train_on_file(args: argparse.Namespace) -> None:
    """Split the data (test, then validation out of the rest; seeded), fit, and print every split's metrics."""
    from ..data_files import read_data, split
    from ..errors import InputError
    from ..registry import build
    from ..spec import as_spec

    if not args.data:
        raise InputError("data: --spec needs --data, a .csv, .npz or .npy file")
    spec = as_spec(args.spec)
    model = build(spec, args.backend, args.dtype, args.seed, args.mode)
    X, y = read_data(args.data, args.target)
    data, validation = split(X, y, args.test_split, args.validation_split, args.seed)
    bar, progress = progress_bar(args.epochs, f"{args.spec} on {args.backend}")
    with bar:
        history = model.fit(data.X_train, data.y_train, epochs=args.epochs, batch_size=args.batch_size,
                            seed=args.seed, validation_data=validation, progress=progress)
    lines = [f"{model!r}"]
    if history["loss"]:
        lines.append("training   " + _metrics({key: values[-1] for key, values in history.items()
                                               if not key.startswith("val_")}))
    if validation is not None:
        lines.append("validation " + _metrics(model.evaluate(*validation)))
    if len(data.y_test):
        lines.append("test       " + _metrics(model.evaluate(data.X_test, data.y_test)))
    print("\n".join(lines))
    if args.save:
        print(f"saved {model.save(args.save)}")


def _metrics(record: dict[str, float]) -> str:
    return ", ".join(f"{key} {value:.6g}" for key, value in record.items())
