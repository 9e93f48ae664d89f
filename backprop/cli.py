"""``python -m backprop``: list backends and presets, train a preset, check gradients.

    python -m backprop list
    python -m backprop train --preset digits --backend jax [--dtype float32] [--mode jit]
    python -m backprop check --preset xor-bce                      # finite differences (NumPy, float64)
    python -m backprop check --preset digits --backends all --dtype float64   # cross-backend agreement
    python -m backprop explain --preset xor-bce [--spec net.json] [--steps 1] [--compare all] [--format markdown]
    python -m backprop report --out reports                         # reports/gradient_agreement.md
    python -m backprop report --gradient-flow                       # reports/gradient_flow.md, .png

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


def _explain(args: argparse.Namespace) -> None:
    from .explain import compare_all, render, trace
    from .registry import available_backends

    spec, X, y = _explained_network(args)
    traces = trace(spec, X, y, steps=args.steps, backend=args.backend, dtype=args.dtype, seed=args.seed)
    text = render(traces, markdown=args.format == "markdown")
    if args.compare == "all":
        import pandas as pd

        rows = pd.DataFrame(compare_all(spec, X, y, available_backends(), seed=args.seed, dtype=args.dtype))
        text += ("\n## Autograd beside the hand-computed gradients\n\n" if args.format == "markdown"
                 else "\n--- autograd beside the hand-computed gradients ---\n") + rows.to_markdown(index=False)
    if args.out:
        from pathlib import Path

        Path(args.out).write_text(text if args.format == "markdown" else text)
        print(f"wrote {args.out}")
    else:
        print(text)


def _explained_network(args: argparse.Namespace):
    """The spec and one batch to trace: a spec file with a random batch, or a preset with its first training rows."""
    if args.spec:
        from .datasets import random_batch
        from .spec import as_spec

        spec = as_spec(args.spec)
        return spec, *random_batch(spec, args.batch, np.random.default_rng(args.seed))
    preset = get_preset(args.preset)
    data = preset.data()
    return preset.network(), data.X_train[:args.batch], data.y_train[:args.batch]


def _report(args: argparse.Namespace) -> None:
    if args.gradient_flow:
        from .gradient_flow import write_report
    else:
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
    explain = commands.add_parser("explain", help="a glass-box trace of training steps, layer by layer",
                                  parents=[common])
    source = explain.add_mutually_exclusive_group()
    source.add_argument("--preset", choices=list(PRESETS), default="xor-bce")
    source.add_argument("--spec", help="a .json spec file (traced on a random batch)")
    explain.add_argument("--backend", default="numpy", help="the backend taking the same steps beside the trace "
                                                            "(a name or name:mode; default numpy, the fast mode)")
    explain.add_argument("--steps", type=int, default=1)
    explain.add_argument("--batch", type=int, default=4, help="rows of the batch traced (default 4)")
    explain.add_argument("--seed", type=int, default=0)
    explain.add_argument("--dtype", default="float64", choices=DTYPES)
    explain.add_argument("--compare", choices=["all"], help="every installed backend's autograd gradients beside the "
                                                            "hand-computed ones")
    explain.add_argument("--format", choices=["text", "markdown"], default="text")
    explain.add_argument("--out", help="write the trace to this file instead of printing it")
    explain.set_defaults(run=_explain)
    report = commands.add_parser("report", help="write gradient_agreement.md and loss_curves.png", parents=[common])
    report.add_argument("--out", default="reports")
    report.add_argument("--gradient-flow", action="store_true",
                        help="write gradient_flow.md and gradient_flow.png instead (deep narrow networks)")
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
