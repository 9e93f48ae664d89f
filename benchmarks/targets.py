"""The four performance targets, checked against a benchmark results folder with the report's own rules.

1. NumPy is the fastest backend/mode on every default model: met on a row only when NumPy wins by the tie rule of
   :mod:`benchmarks.stats`; a tie is not a win, and a loss gives NumPy's ratio to the fastest with its interval.
2. The wide model's NumPy step runs at ≥ 80 % of the GEMM peak measured in the same run.
3. NumPy is ≥ 3× faster per digits epoch than scikit-learn, both through their public fit: met when the lower end
   of the ratio's interval is ≥ 3.
4. Every suite mode is within 1.1× of the minimal loop of the same mode, at the upper end of the interval
   (:mod:`benchmarks.overhead`).
"""

from __future__ import annotations

import pandas as pd

from .frames import Folder, in_sweep, ok_steps
from .overhead import OVERHEAD_TARGET, cause, overhead_ratios, overhead_table, per_mode
from .sections import sklearn_ratio
from .summary import REFERENCE, provenance_line, standing

PEAK_TARGET = 80.0
SKLEARN_TARGET = 3.0


def fastest_rows(folder: Folder, top: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for model, group in top.groupby("model", sort=False):
        numpy = group[group["label"] == REFERENCE]
        kind, words = standing(folder, group)
        rows.append({"model": model, "NumPy ms": numpy["step_median_s"].iloc[0] * 1e3 if len(numpy) else None,
                     "NumPy": kind, "detail": words, "met": "✓" if kind == "win" else "✗"})
    return pd.DataFrame(rows)


def peak_line(top: pd.DataFrame) -> str:
    wide = top[(top["model"] == "wide") & (top["label"] == REFERENCE)]
    if wide.empty or pd.isna(wide["pct_of_peak"].iloc[0]):
        return f"2. Wide: not measured in this run (target ≥ {PEAK_TARGET:.0f} % of the GEMM peak).\n"
    row = wide.iloc[0]
    pct = row["pct_of_peak"]
    low, high = (pct * row["step_median_s"] / row[bound] for bound in ("step_ci_high_s", "step_ci_low_s"))
    return (f"2. Wide 1024-4096-4096-1024 (batch 256, sgd): NumPy at {pct:.0f} % [{low:.0f}–{high:.0f}] of the "
            f"GEMM peak measured in the same run (target ≥ {PEAK_TARGET:.0f} %): "
            f"{'✓' if pct >= PEAK_TARGET else '✗'}.\n")


def sklearn_line(folder: Folder) -> str:
    results = folder.results
    ratio = sklearn_ratio(folder, results[(results["kind"] == "tta") & (results["status"] == "ok")])
    if ratio is None:
        return f"3. Digits epoch against scikit-learn: not measured in this run (target ≥ {SKLEARN_TARGET:.0f}×).\n"
    verdict = "✓" if ratio.low >= SKLEARN_TARGET else ("✗" if ratio.high < SKLEARN_TARGET else "unresolved")
    return (f"3. Digits epoch (batch 32, Adam), both through their public fit: scikit-learn ÷ NumPy "
            f"{ratio.text('.1f')} (target ≥ {SKLEARN_TARGET:.0f}× at the lower end): {verdict}.\n")


def targets(folder: Folder) -> list[str]:
    """The targets section of ``performance.md``."""
    models = in_sweep(ok_steps(folder), "models")
    top = models[models["threads"] == models["threads"].max()] if not models.empty else models
    fastest = fastest_rows(folder, top) if not top.empty else pd.DataFrame()
    ratios = overhead_ratios(folder)
    missed = ratios[ratios["verdict"] != "met"] if not ratios.empty else ratios
    misses = "; ".join(f"{row['mode']} on {row['model']}: {row['ratio'].text()} ({row['verdict']}; {cause(row)})"
                       for _, row in missed.iterrows()) or "none"
    wins = int((fastest["met"] == "✓").sum()) if not fastest.empty else 0
    return [f"## Performance targets (from the benchmark run in this folder: {provenance_line(folder.env)})\n",
            f"1. NumPy is the fastest backend/mode on every default model (a win by the tie rule): {wins} of "
            f"{len(fastest)}.\n", fastest.to_markdown(index=False, floatfmt=".4g") if not fastest.empty else "",
            "", peak_line(top), sklearn_line(folder),
            f"4. Each suite mode ÷ the minimal loop of the same mode (target ≤ {OVERHEAD_TARGET}× at the upper end "
            "of the interval):\n", overhead_table(ratios).to_markdown(index=False, floatfmt=".4g")
            if not ratios.empty else "_not measured_", "", per_mode(ratios).to_markdown(index=False)
            if not ratios.empty else "", "", f"Not met: {misses}.\n"]
