"""The suite's own overhead: each suite mode against the minimal loop of the same mode (DESIGN.md section 5).

For every model row where both ran, the ratio suite ÷ like-for-like loop (:mod:`benchmarks.reference_loops`) with
its 95 % interval, paired within each process: the loop's process also builds the suite model of the same mode and
times the two in alternating blocks (:func:`benchmarks.timing.rotating_blocks`), so the 20–50 % drift between
processes of this host drops out of the ratio. The figure is the median over processes of each process's median
block ratio, its interval the two-level bootstrap of :mod:`benchmarks.stats`. The ratio of the two cells' own
figures (across processes, paired by round) is shown beside it. Where the target is not met, :func:`cause` says
whether the suite's non-finite guard accounts for it: the JAX and TensorFlow loops' guarded twins (the same step,
updating through the same kind of conditional as the suite) are timed in the same rotation. The target is a ratio
≤ :data:`OVERHEAD_TARGET` at the upper end of the interval: ``met`` when the whole interval is ≤ the target, ``missed`` when all of it is above, ``unresolved`` when
it straddles the target (more rounds, or a quieter machine, would decide). The ratio to the framework's idiomatic
loop of the same mode, where that is another loop (torch's default optimizer, JAX without donation), is shown
beside it for information.
"""

from __future__ import annotations

import pandas as pd

from .frames import Folder, in_sweep, ok_steps
from .reference_loops import REFERENCES
from .stats import Interval, cell_interval, ratio_interval

OVERHEAD_TARGET = 1.1


def target_verdict(ratio: Interval) -> str:
    if ratio.high <= OVERHEAD_TARGET:
        return "met"
    if ratio.low > OVERHEAD_TARGET:
        return "missed"
    return "unresolved"


def overhead_ratios(folder: Folder) -> pd.DataFrame:
    """One row per (model row, suite mode) with a like-for-like loop: both times, the ratio and its verdict."""
    steps = in_sweep(ok_steps(folder), "models")
    rows = []
    for (model, batch, threads), group in steps.groupby(["model", "batch_size", "threads"], sort=False):
        by_label = {row["label"]: row for _, row in group.iterrows()}
        for reference in REFERENCES.values():
            if not reference.like_for_like or reference.label not in by_label or reference.suite_label not in by_label:
                continue
            suite, loop = by_label[reference.suite_label], by_label[reference.label]
            ratio = suite_to_loop(folder, suite, loop)
            idiomatic = next((ref for ref in REFERENCES.values() if not ref.like_for_like
                              and ref.suite_label == reference.suite_label and ref.label in by_label), None)
            plain = suite_to_loop(folder, suite, by_label[idiomatic.label]) if idiomatic else None
            rows.append({"model": model, "batch_size": batch, "threads": threads, "framework": reference.framework,
                         "mode": reference.suite_label, "loop": reference.label,
                         "suite_s": suite["step_median_s"], "loop_s": loop["step_median_s"], "ratio": ratio,
                         "across": ratio_interval(folder.samples(suite), folder.samples(loop)),
                         "guarded": guarded_ratio(folder, loop),
                         "verdict": target_verdict(ratio), "idiomatic": idiomatic.label if idiomatic else "",
                         "idiomatic_ratio": plain})
    return pd.DataFrame(rows)


def suite_to_loop(folder: Folder, suite: pd.Series, loop: pd.Series) -> Interval:
    """Suite ÷ loop, paired within the loop's processes where they hold paired blocks, else across processes."""
    paired = folder.samples(loop, "paired_ratios")
    return cell_interval(paired) if paired else ratio_interval(folder.samples(suite), folder.samples(loop))


def guarded_ratio(folder: Folder, loop: pd.Series) -> Interval | None:
    """Suite ÷ the loop's guarded twin, paired in the loop's processes, where the loop has a twin."""
    samples = folder.samples(loop, "guarded_ratios")
    return cell_interval(samples) if samples else None


def cause(row: pd.Series) -> str:
    """Why a suite mode is not within the target. Within it by the estimate: the interval is what reaches past
    it. Otherwise, from the loop's guarded twin (the same loop updating through a conditional only when the loss
    and every gradient are finite, as the suite's non-finite guard does, which no minimal loop has): with R the
    suite's ratio to the loop and G its ratio to the twin, the guard alone costs the loop R/G, that is
    (R/G − 1)/(R − 1) of the overhead, and G is what the adapter adds beyond it."""
    ratio = row["ratio"]
    if row["verdict"] == "met":
        return "–"
    if ratio.value <= OVERHEAD_TARGET:
        return f"noise: the estimate is within {OVERHEAD_TARGET}×, the interval reaches {ratio.high:.2f}×"
    guarded = row["guarded"]
    if guarded is None:
        return "no guarded twin (torch's guard is host-side copies, not a loop idiom)"
    guard = ratio.value / guarded.value
    share = min(max((guard - 1) / (ratio.value - 1), 0.0), 1.0)
    return (f"the non-finite guard costs the loop {guard:.2f}× ({share:.0%} of the overhead); beyond it the suite "
            f"is {guarded.text()} of the guarded loop")


def overhead_table(ratios: pd.DataFrame) -> pd.DataFrame:
    """:func:`overhead_ratios` as the report's table."""
    if ratios.empty:
        return ratios
    marks = {"met": "✓ met", "missed": "✗ missed", "unresolved": "? unresolved"}
    return pd.DataFrame({
        "model": ratios["model"], "threads": ratios["threads"], "suite mode": ratios["mode"],
        "minimal loop (same mode)": ratios["loop"], "suite (ms)": ratios["suite_s"] * 1e3,
        "loop (ms)": ratios["loop_s"] * 1e3, "ratio [95 %], paired in process": [r.text() for r in ratios["ratio"]],
        "ratio of the cells [95 %]": [r.text() for r in ratios["across"]],
        f"target ≤ {OVERHEAD_TARGET}×": [marks[v] for v in ratios["verdict"]],
        "why": [cause(row) for _, row in ratios.iterrows()],
        "vs idiomatic loop": [f"{r.text()} ({loop})" if r is not None else "–"
                              for r, loop in zip(ratios["idiomatic_ratio"], ratios["idiomatic"])]})


def per_mode(ratios: pd.DataFrame) -> pd.DataFrame:
    """For each suite mode: the rows it was checked on, how many met / missed / are unresolved, its worst row (the
    highest upper bound) with its ratio and, where that row misses the target, why."""
    if ratios.empty:
        return ratios
    out = []
    for mode, group in ratios.groupby("mode", sort=False):
        verdicts = list(group["verdict"])
        worst = group.loc[max(group.index, key=lambda index: group.at[index, "ratio"].high)]
        out.append({"suite mode": mode, "rows": len(group), "met": verdicts.count("met"),
                    "missed": verdicts.count("missed"), "unresolved": verdicts.count("unresolved"),
                    "worst row": f"{worst['model']}: {worst['ratio'].text()}", "why": cause(worst)})
    return pd.DataFrame(out)


def unchecked_modes(folder: Folder, ratios: pd.DataFrame) -> list[str]:
    """Suite labels of the model tables that have a minimal loop of their mode but were not checked against it in
    this run (the default sweep times the loops of the best modes only)."""
    steps = in_sweep(ok_steps(folder), "models")
    mirrored = {ref.suite_label for ref in REFERENCES.values() if ref.like_for_like}
    checked = set(ratios["mode"]) if not ratios.empty else set()
    return sorted({label for label in steps["label"] if label in mirrored and label not in checked})
