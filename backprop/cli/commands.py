"""The commands that inspect: ``list``, ``summary``, ``check``, ``explain`` and ``report``."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from ..presets import PRESETS, get_preset
from ..registry import BACKENDS, is_installed


def list_all(args: argparse.Namespace) -> None:
    backends = pd.DataFrame([{"backend": info.name, "installed": is_installed(info.name),
                              "modes": ", ".join(info.modes), "extra": info.extra or "(core)"}
                             for info in BACKENDS.values()])
    presets = pd.DataFrame([{"preset": p.name, "description": p.description, "goal": p.goal}
                            for p in PRESETS.values()])
    print("Backends\n" + backends.to_markdown(index=False) + "\n\nPresets\n" + presets.to_markdown(index=False))


def summary(args: argparse.Namespace) -> None:
    from ..spec import as_spec

    print(as_spec(args.spec).summary_text())


def network_and_batch(args: argparse.Namespace, rows: int) -> tuple:
    """The spec and a batch to check or trace: a spec file with a random batch of ``rows`` (seeded), or a preset with
    its first training rows."""
    if args.spec:
        from ..datasets import random_batch
        from ..spec import as_spec

        spec = as_spec(args.spec)
        return spec, *random_batch(spec, rows, np.random.default_rng(args.seed)), args.seed
    preset = get_preset(args.preset)
    data = preset.data()
    return preset.network(), data.X_train[:rows], data.y_train[:rows], preset.seed


def check(args: argparse.Namespace) -> None:
    spec, X, y, seed = network_and_batch(args, args.batch)
    name = args.spec or args.preset
    if args.backends is None:
        from ..gradcheck import finite_difference_check

        table = finite_difference_check(spec, X, y, seed=seed)
        print(f"Finite differences vs NumPy backprop, {name}, float64\n" + table.to_markdown(index=False))
        passed = bool(table["passed"].all())
    else:
        from ..agreement import agreement_report

        names = None if args.backends == "all" else args.backends.split(",")
        report = agreement_report(spec, X, y, dtype=args.dtype, seed=seed, backends=names)
        print(report.to_markdown())
        passed = report.passed
    if not passed:
        raise SystemExit(1)


def explain(args: argparse.Namespace) -> None:
    from ..explain import compare_all, render, trace
    from ..registry import available_backends

    spec, X, y, _ = network_and_batch(args, args.batch)
    traces = trace(spec, X, y, steps=args.steps, backend=args.backend, dtype=args.dtype, seed=args.seed)
    text = render(traces, markdown=args.format == "markdown")
    if args.compare == "all":
        import pandas as pd

        rows = pd.DataFrame(compare_all(spec, X, y, available_backends(), seed=args.seed, dtype=args.dtype))
        text += ("\n## Autograd beside the hand-computed gradients\n\n" if args.format == "markdown"
                 else "\n--- autograd beside the hand-computed gradients ---\n") + rows.to_markdown(index=False)
    if args.out:
        from pathlib import Path

        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    else:
        print(text)


def report(args: argparse.Namespace) -> None:
    if args.gradient_flow:
        from ..gradient_flow import write_report
    else:
        from ..agreement_report import write_report

    print(f"wrote {write_report(args.out)}")


