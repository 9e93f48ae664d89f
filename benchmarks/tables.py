"""The report's tables of step times: every cell with its ratio to the row's fastest and that ratio's 95 % interval,
and each row's verdict by the tie rule of :mod:`benchmarks.stats`.

Only suite labels (registry backends and modes) are ranked; minimal loops are shown beside them with their ratio to
the fastest suite label. A fastest label is bold only when it wins; a tie names every tied label.
"""

from __future__ import annotations

import pandas as pd

from .frames import Folder, is_reference
from .stats import Interval, Ranking, rank, ratio_interval


def label_order(rows: pd.DataFrame) -> list[str]:
    """Suite labels in sweep order, then the minimal loops."""
    labels = list(dict.fromkeys(rows["label"]))
    return [label for label in labels if not is_reference(label)] + [label for label in labels if is_reference(label)]


def row_ranking(folder: Folder, rows: pd.DataFrame) -> tuple[Ranking | None, dict[str, Interval]]:
    """The ranking of the suite labels of one table row, and every label's ratio to its fastest."""
    suite = {row["label"]: folder.samples(row) for _, row in rows.iterrows() if not is_reference(row["label"])}
    suite = {label: samples for label, samples in suite.items() if samples}
    if not suite:
        return None, {}
    ranking = rank(suite)
    fastest = suite[ranking.fastest]
    ratios = dict(ranking.ratios)
    for _, row in rows.iterrows():
        if is_reference(row["label"]) and folder.samples(row):
            ratios[row["label"]] = ratio_interval(folder.samples(row), fastest)
    return ranking, ratios


def verdict(ranking: Ranking | None) -> str:
    """``numpy:eager wins (next jax:jit 1.42× [1.21–1.66])``, ``tie: a, b`` or ``only a``."""
    if ranking is None:
        return "–"
    runner_up = ranking.runner_up
    if runner_up is None:
        return f"only {ranking.fastest}"
    if ranking.win:
        return f"{ranking.fastest} wins (next {runner_up} {ranking.ratios[runner_up].text()})"
    return "tie: " + ", ".join(ranking.tied)


def ranked_table(folder: Folder, rows: pd.DataFrame, index: str, unit: float = 1e3, fmt: str = ".3g"
                 ) -> pd.DataFrame:
    """``index`` × label: "median (ratio× [low–high])" per cell, the winner in bold, and a verdict column."""
    labels = label_order(rows)
    out = {}
    for key, group in rows.groupby(index, sort=False):
        ranking, ratios = row_ranking(folder, group)
        by_label = {row["label"]: row for _, row in group.iterrows()}
        line = {}
        for label in labels:
            if label not in by_label or label not in ratios:
                line[label] = "–"
                continue
            text = f"{by_label[label]['step_median_s'] * unit:{fmt}} ({ratios[label].text()})"
            won = ranking is not None and ranking.win and label == ranking.fastest
            line[label] = f"**{text}**" if won else text
        line["verdict"] = verdict(ranking)
        out[key] = line
    return pd.DataFrame.from_dict(out, orient="index").rename_axis(index)


def plain_pivot(rows: pd.DataFrame, value: str, index: str, fmt) -> pd.DataFrame:
    """``index`` × label of ``value`` formatted by ``fmt`` ("–" where missing)."""
    if rows.empty:
        return pd.DataFrame()
    table = rows.pivot_table(index=index, columns="label", values=value, aggfunc="first")
    table = table[[label for label in label_order(rows) if label in table.columns]]
    table = table.reindex(list(dict.fromkeys(rows[index])))
    return table.apply(lambda column: column.map(lambda v: "–" if pd.isna(v) else fmt(v)))


def markdown(frame: pd.DataFrame, **kwargs) -> str:
    return frame.to_markdown(**kwargs) if not frame.empty else "_no rows_"
