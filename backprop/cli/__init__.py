"""``python -m backprop``: list, train, check, explain and report, on presets or on your own spec and data files.

    python -m backprop list
    python -m backprop summary --spec net.json
    python -m backprop train --preset digits --backend jax [--dtype float32] [--mode jit]
    python -m backprop train --spec net.json --data train.csv --target label [--test-split 0.2] [--save model.npz]
    python -m backprop check --preset xor-bce                      # finite differences (NumPy, float64)
    python -m backprop check --spec net.json --backends all        # cross-backend agreement
    python -m backprop convert model.keras --out net.json [--params params.npz]
    python -m backprop explain --preset xor-bce [--spec net.json] [--steps 1] [--compare all] [--format markdown]
    python -m backprop report --out reports                         # reports/gradient_agreement.md
    python -m backprop report --gradient-flow                       # reports/gradient_flow.md, .png

Every bad file, column, shape or option is one ``error:`` line and exit status 2, never a traceback. Framework log
lines (TensorFlow's C++ notices, XLA's, Python-side warnings) are hidden unless ``--verbose``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import numpy as np

from ..errors import BackpropError
from ..presets import PRESETS
from ..registry import BACKENDS
from ..spec import DTYPES
from .commands import check, explain, list_all, report, summary
from .conversion import convert
from .training import train


def quiet_frameworks() -> None:
    """Hide the frameworks' own log lines for this command-line process: TensorFlow's C++ INFO and WARNING
    messages (read from ``TF_CPP_MIN_LOG_LEVEL`` when TensorFlow loads, so set before any import of it) and the
    Python loggers of TensorFlow and absl. The library never does this; this program owns its process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in ("tensorflow", "absl", "jax", "keras"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _source(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    """--preset or --spec (a .json file), one of them."""
    source = parser.add_mutually_exclusive_group(required=default is None)
    source.add_argument("--preset", choices=list(PRESETS), default=default)
    source.add_argument("--spec", help="a .json spec file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backprop", description=__doc__.split("\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", help="show the frameworks' own log lines")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str, run) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, parents=[common])
        sub.set_defaults(run=run)
        return sub

    command("list", "backends (installed or not) and presets", list_all)
    command("summary", "a spec's layers, output shapes and parameter counts", summary).add_argument(
        "--spec", required=True, help="a .json spec file")
    training = command("train", "train a preset, or a spec on a data file, with a progress bar", train)
    _source(training)
    training.add_argument("--data", help="with --spec: a .csv (with --target), .npz (X, y) or .npy file")
    training.add_argument("--target", help="the targets' column (CSV name, .npy index)")
    training.add_argument("--test-split", type=float, default=0.2)
    training.add_argument("--validation-split", type=float, default=0.1)
    training.add_argument("--epochs", type=int, default=20)
    training.add_argument("--batch-size", type=int, default=64)
    training.add_argument("--seed", type=int, default=0)
    training.add_argument("--save", help="write the trained model to this .npz file")
    for sub in (training,):
        sub.add_argument("--backend", default="numpy", help=f"one of {', '.join(BACKENDS)} (or name:mode)")
        sub.add_argument("--dtype", default="float64", choices=DTYPES)
        sub.add_argument("--mode", default=None)
    checking = command("check", "finite-difference or cross-backend agreement table", check)
    _source(checking)
    checking.add_argument("--backends", default=None, help="'all' or a comma list; omit for finite differences")
    checking.add_argument("--dtype", default="float64", choices=DTYPES)
    checking.add_argument("--batch", type=int, default=64, help="rows checked (default 64)")
    checking.add_argument("--seed", type=int, default=0)
    converting = command("convert", "a Keras or torch model file as a spec file", convert)
    converting.add_argument("model", help="a .keras, .pt or .pth file")
    converting.add_argument("--input-shape", help="for torch: the suite's input shape, e.g. 28,28,1 or 784")
    converting.add_argument("--out", required=True, help="the .json spec file to write")
    converting.add_argument("--params", help="also write the parameters to this .npz file")
    converting.add_argument("--loss", default=None, help="the loss (default: from the output activation)")
    converting.add_argument("--allow-pickle", action="store_true",
                            help="allow unpickling a .pt/.pth file (runs code from it; only for files you trust)")
    explaining = command("explain", "a glass-box trace of training steps, layer by layer", explain)
    _source(explaining, default="xor-bce")
    explaining.add_argument("--backend", default="numpy", help="the backend taking the same steps beside the trace "
                                                               "(a name or name:mode; default numpy, the fast mode)")
    explaining.add_argument("--steps", type=int, default=1)
    explaining.add_argument("--batch", type=int, default=4, help="rows of the batch traced (default 4)")
    explaining.add_argument("--seed", type=int, default=0)
    explaining.add_argument("--dtype", default="float64", choices=DTYPES)
    explaining.add_argument("--compare", choices=["all"],
                            help="every installed backend's autograd gradients beside the hand-computed ones")
    explaining.add_argument("--format", choices=["text", "markdown"], default="text")
    explaining.add_argument("--out", help="write the trace to this file instead of printing it")
    reporting = command("report", "write gradient_agreement.md and loss_curves.png", report)
    reporting.add_argument("--out", default="reports")
    reporting.add_argument("--gradient-flow", action="store_true",
                           help="write gradient_flow.md and gradient_flow.png instead (deep narrow networks)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if not args.verbose:
        quiet_frameworks()
    np.set_printoptions(precision=4)
    try:
        args.run(args)
    except BackpropError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
