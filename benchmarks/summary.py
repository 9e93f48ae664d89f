"""The benchmark summary in words: wins, ties and losses with their intervals, written from a results folder.

The same lines open ``benchmark.md`` and make ``summary.md``, the text of the README's benchmark section: the
README is rewritten from the committed run by pasting it, so no number is typed by hand. Every claim is the tie
rule of :mod:`benchmarks.stats` applied to the data: a label "wins" a row only when every other label's ratio to it
has a 95 % interval above 1; a "tie" names every label whose interval includes 1; a "loss" gives the ratio to the
row's fastest with its interval.
"""

from __future__ import annotations

import pandas as pd

from .environment import is_committed
from .frames import Folder, in_sweep, is_reference, ok_steps, scaling_curves
from .overhead import overhead_ratios, per_mode
from .sections import public_step_ratios, sklearn_ratio, task_description
from .tables import markdown, ranked_table, row_ranking, verdict

REFERENCE = "numpy:eager"


def standing(folder: Folder, rows: pd.DataFrame, label: str = REFERENCE) -> tuple[str, str]:
    """``("win" | "tie" | "loss" | "–", words)`` of ``label`` in one table row."""
    ranking, ratios = row_ranking(folder, rows)
    if ranking is None or label not in ratios:
        return "–", "not measured"
    if ranking.runner_up is None:
        return "–", "no other label in the row"
    if ranking.fastest == label and ranking.win:
        runner_up = ranking.runner_up
        return "win", f"fastest; next {runner_up} at {ranking.ratios[runner_up].text()}"
    if label in ranking.tied:
        others = ", ".join(other for other in ranking.tied if other != label)
        if ranking.fastest == label:
            runner_up = ranking.runner_up
            return "tie", f"fastest but tied with {others}; {runner_up} at {ranking.ratios[runner_up].text()}"
        return "tie", f"tied with {others}; at {ratios[label].text()} of {ranking.fastest}"
    return "loss", f"{ratios[label].text()} of {ranking.fastest}"


def provenance_line(env: dict) -> str:
    """``a committed run: git …, clean tree`` or ``not a committed run: git … with uncommitted changes in …``."""
    commit = str(env.get("git", {}).get("commit", env.get("git_commit", "?")))
    if is_committed(env):
        return f"a committed run: git {commit[:10]}, clean tree"
    changed = env.get("git", {}).get("changed", []) or env.get("git_at_end", {}).get("changed", [])
    listed = f" ({', '.join(changed[:5])}{', …' if len(changed) > 5 else ''})" if changed else ""
    return f"not a committed run: git {commit[:10]} with uncommitted changes in {len(changed)} path(s){listed}"


def _bold_if_dirty(env: dict) -> str:
    line = provenance_line(env)
    return line if is_committed(env) else f"**{line}**"


def summary_lines(folder: Folder) -> list[str]:
    """The README benchmark section's text for this folder."""
    env, rounds = folder.env, folder.rounds
    models = in_sweep(ok_steps(folder), "models")
    top = models[models["threads"] == models["threads"].max()] if not models.empty else models
    settings = env.get("settings", {})
    lines = ["## Benchmark results\n",
             f"`{env.get('command', 'python -m benchmarks.run')}` ({settings.get('sweep', '?')} sweep: "
             f"{settings.get('cells', '?')} cells × {rounds} fresh processes each, interleaved round by round; "
             f"{env.get('wall_s', '?')} s; {_bold_if_dirty(env)}) produced "
             "[reports/benchmark.md](reports/benchmark.md). "
             f"A cell's time is the median of its {rounds} process medians; a ratio's 95 % interval comes from a "
             "bootstrap over processes and, within each, its timed blocks (`benchmarks/stats.py`). A label wins a "
             "row only when every other label's interval lies above 1× its time; otherwise the row is a tie.\n"]
    if rounds == 1:
        lines.append("**One process per cell (R = 1): the intervals show only the spread within a process, not "
                     "the 20–50 % between processes of this shared host; every ranking here is indicative.**\n")
    if not top.empty:
        suite = top[~top["label"].map(is_reference)]
        lines += [f"Step time, ms ({int(top['threads'].max())} threads), with the ratio to the row's fastest:\n",
                  markdown(ranked_table(folder, suite, "model")), ""]
        verdicts = {model: standing(folder, rows) for model, rows in top.groupby("model", sort=False)}
        counts = {kind: [m for m, (k, _) in verdicts.items() if k == kind] for kind in ("win", "tie", "loss")}
        lines.append(f"- **NumPy**: {len(counts['win'])} win(s), {len(counts['tie'])} tie(s), "
                     f"{len(counts['loss'])} loss(es) in {len(verdicts)} model rows. "
                     + "; ".join(f"{model}: {kind}, {words}" for model, (kind, words) in verdicts.items()) + ".")
    lines += _scaling_lines(folder) + _overhead_lines(folder) + _public_lines(folder) + _tta_lines(folder)
    return [*lines, ""]


def _scaling_lines(folder: Folder) -> list[str]:
    lines = []
    for what, index, rows in scaling_curves(ok_steps(folder)):
        unit = "batch" if index == "batch_size" else "width"
        parts = [f"{unit} {int(value)}: {verdict(row_ranking(folder, group)[0])}"
                 for value, group in rows.groupby(index, sort=True)]
        shape = " (mnist's shape)" if index == "hidden_width" else ""
        lines.append(f"- **Scaling with {what}**{shape}: " + "; ".join(parts) + ".")
    return lines


def _overhead_lines(folder: Folder) -> list[str]:
    modes = per_mode(overhead_ratios(folder))
    if modes.empty:
        return []
    parts = [f"{row['suite mode']} {row['met']} met / {row['missed']} missed / {row['unresolved']} unresolved of "
             f"{row['rows']} (worst {row['worst row']}" + ("" if row["why"] == "–" else f"; why: {row['why']}") + ")"
             for _, row in modes.iterrows()]
    return ["- **Suite overhead** against the minimal loop of the same mode, paired in process (target ≤ 1.1× at the "
            "upper end of the interval): " + "; ".join(parts) + "."]


def _public_lines(folder: Folder) -> list[str]:
    """The public step's extra cost where it is resolved (its ratio's interval above 1×); the other cells are
    counted, not quoted: on a step of tenths of a second the noise between blocks is larger than the extra cost,
    and a difference of medians there can come out negative."""
    ratios = public_step_ratios(folder)
    if ratios.empty:
        return []
    resolved = ratios[[ratio.low > 1 for ratio in ratios["ratio"]]]
    unresolved = len(ratios) - len(resolved)
    within = (f"; in the other {unresolved} the difference is within the noise (interval includes 1×)"
              if unresolved else "")
    if resolved.empty:
        return [f"- **Public `train_step(X, y)`** (validation, conversion, lock, read-back): no cell's extra cost is "
                f"resolved from its native step ({len(ratios)} cells, every interval includes 1×)."]
    extra = (resolved["public_s"] - resolved["native_s"]) * 1e6
    worst = resolved.iloc[max(range(len(resolved)), key=lambda i: resolved["ratio"].iloc[i].value)]
    return [f"- **Public `train_step(X, y)`** (validation, conversion, lock, read-back) costs measurably more than "
            f"the native step in {len(resolved)} of {len(ratios)} cells: {extra.min():.0f}–{extra.max():.0f} µs more "
            f"per call, the most relative on {worst['label']} {worst['model']} ({worst['ratio'].text()} of its "
            f"native step){within}."]


def _tta_lines(folder: Folder) -> list[str]:
    results = folder.results
    tta = results[(results["kind"] == "tta") & (results["status"] == "ok")].sort_values("tta_s")
    lines = []
    for model, rows in tta.groupby("model", sort=False):
        reached = "; ".join(f"{row['label']} {row['tta_s']:.2f} s ({row['tta_epochs']:.0f} epochs)"
                            for _, row in rows.iterrows())
        lines.append(f"- **Time to 95 % test accuracy, {task_description(model)}** (compiles included): {reached}.")
    ratio = sklearn_ratio(folder, tta)
    if ratio is not None:
        lines.append(f"- **scikit-learn**: one `MLPClassifier.partial_fit` epoch on digits takes {ratio.text('.1f')} "
                     "the time of one NumPy `model.fit(epochs=1)` epoch, both through their public fit.")
    return lines
