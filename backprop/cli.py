"""``python -m backprop``: list backends and presets, train a preset, check gradients.

    python -m backprop list
    python -m backprop train --preset digits --backend jax [--dtype float32] [--mode jit]
    python -m backprop check --preset xor-bce                      # finite differences (NumPy, float64)
    python -m backprop check --preset digits --backends all --dtype float64   # cross-backend agreement
    python -m backprop report --out reports                         # reports/gradient_agreement.md

Framework log lines (TensorFlow's C++ notices, XLA's, Python-side warnings) are hidden unless ``--verbose``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import numpy as np
import pandas as pd

from .errors import BackpropError
from .presets import PRESETS, get_preset, train_preset
from .registry import BACKENDS, is_installed
from .spec import DTYPES


def _list(args: argparse.Namespace) -> None:
    backends = pd.DataFrame([{"backend": info.name, "installed": is_installed(info.name),
                              "modes": ", ".join(info.modes), "extra": info.extra or "(core)"}
                             for info in BACKENDS.values()])
    presets = pd.DataFrame([{"preset": p.name, "description": p.description, "goal": p.goal}
                            for p in PRESETS.values()])
    print("Backends\n" + backends.to_markdown(index=False) + "\n\nPresets\n" + presets.to_markdown(index=False))


def _train(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    preset = get_preset(args.preset)
    with tqdm(total=preset.epochs, desc=f"{preset.name} on {args.backend}", unit="epoch") as bar:
        def progress(epoch: int, record: dict[str, float]) -> None:
            bar.set_postfix({key: f"{value:.4g}" for key, value in record.items()}, refresh=False)
            bar.update(1)

        model, history, outcome = train_preset(args.preset, args.backend, args.dtype, args.mode, progress)
    final = {key: values[-1] for key, values in history.items()}
    print(f"{model!r}\nfinal training " + ", ".join(f"{k} {v:.6g}" for k, v in final.items()))
    print(f"{outcome.summary}\ngoal: {preset.goal}: {'reached' if outcome.passed else 'NOT reached'}")
    if not outcome.passed:
        raise SystemExit(1)


def _check(args: argparse.Namespace) -> None:
    preset = get_preset(args.preset)
    data = preset.data()
    batch = slice(0, min(len(data.X_train), 64))
    if args.backends is None:
        from .gradcheck import finite_difference_check

        table = finite_difference_check(preset.spec, data.X_train[batch], data.y_train[batch], seed=preset.seed)
        print(f"Finite differences vs NumPy backprop, {preset.name}, float64\n" + table.to_markdown(index=False))
        passed = bool(table["passed"].all())
    else:
        from .agreement import agreement_report

        names = None if args.backends == "all" else args.backends.split(",")
        report = agreement_report(preset.spec, data.X_train[batch], data.y_train[batch], dtype=args.dtype,
                                  seed=preset.seed, backends=names)
        print(report.to_markdown())
        passed = report.passed
    if not passed:
        raise SystemExit(1)


def _report(args: argparse.Namespace) -> None:
    from .agreement_report import write_report

    print(f"wrote {write_report(args.out)}")


def quiet_frameworks() -> None:
    """Hide the frameworks' own log lines for this command-line process: TensorFlow's C++ INFO and WARNING
    messages (read from ``TF_CPP_MIN_LOG_LEVEL`` when TensorFlow loads, so set before any import of it) and the
    Python loggers of TensorFlow and absl. The library never does this; this program owns its process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in ("tensorflow", "absl", "jax", "keras"):
        logging.getLogger(name).setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m backprop", description=__doc__.split("\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", help="show the frameworks' own log lines")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="backends (installed or not) and presets", parents=[common]).set_defaults(
        run=_list)
    train = commands.add_parser("train", help="train a preset with a progress bar", parents=[common])
    train.add_argument("--preset", required=True, choices=list(PRESETS))
    train.add_argument("--backend", default="numpy", choices=list(BACKENDS))
    train.add_argument("--dtype", default="float64", choices=DTYPES)
    train.add_argument("--mode", default=None)
    train.set_defaults(run=_train)
    check = commands.add_parser("check", help="finite-difference or cross-backend agreement table", parents=[common])
    check.add_argument("--preset", required=True, choices=list(PRESETS))
    check.add_argument("--backends", default=None, help="'all' or a comma list; omit for finite differences")
    check.add_argument("--dtype", default="float64", choices=DTYPES)
    check.set_defaults(run=_check)
    report = commands.add_parser("report", help="write gradient_agreement.md and loss_curves.png", parents=[common])
    report.add_argument("--out", default="reports")
    report.set_defaults(run=_report)
    args = parser.parse_args(argv)
    if not args.verbose:
        quiet_frameworks()
    np.set_printoptions(precision=4)
    try:
        args.run(args)
    except BackpropError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
