"""A results folder loaded for the report: the cells (``results.csv``), the process samples behind each cell
(``processes.csv``), the loss curves and the environment record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .aggregate import samples
from .reference_loops import REFERENCES
from .results import read_rows, row_key
from .stats import Samples


TEXT_COLUMNS = ["sweep", "kind", "backend", "mode", "label", "model", "dtype", "status", "error", "round_medians_s",
                "noisy", "threads_verified"]


@dataclass
class Folder:
    """One output folder's data; :meth:`samples` gives a cell's per-round block times for the intervals."""

    results: pd.DataFrame
    curves: pd.DataFrame
    env: dict
    processes: dict[tuple, list[dict]] = field(default_factory=dict)

    def samples(self, row: pd.Series | dict, field_name: str = "block_s") -> Samples:
        """The ok processes' blocks of the cell of ``row`` (``block_s``, ``public_block_s`` or a minimal loop's
        ``paired_ratios``)."""
        rows = [p for p in self.processes.get(row_key(dict(row)), []) if p["status"] == "ok"]
        return samples(rows, field_name)

    @property
    def rounds(self) -> int:
        """R: the largest number of ok processes any cell has (the planned rounds when none failed)."""
        counts = pd.to_numeric(self.results.get("rounds", pd.Series(dtype=float)), errors="coerce")
        return int(counts.max()) if counts.notna().any() else 0


def load(out: Path) -> Folder:
    results = pd.DataFrame(read_rows(out / "results.csv"))
    if results.empty:
        results = pd.DataFrame(columns=["kind", "status", "label", "backend", "model", "threads", "sweep", "error"])
    for column in results.columns.difference(TEXT_COLUMNS):
        results[column] = pd.to_numeric(results[column], errors="coerce")
    for column in results.columns.intersection(TEXT_COLUMNS):
        results[column] = results[column].fillna("").astype(str)
    processes: dict[tuple, list[dict]] = {}
    for row in read_rows(out / "processes.csv"):
        processes.setdefault(row_key(row), []).append(row)
    curves_path = out / "curves.csv"
    curves = pd.read_csv(curves_path) if curves_path.exists() and curves_path.stat().st_size > 0 else pd.DataFrame()
    env_path = out / "environment.json"
    env = json.loads(env_path.read_text()) if env_path.exists() else {}
    return Folder(results, curves, env, processes)


def is_reference(label: str) -> bool:
    """True for a minimal loop or the scikit-learn reference: rows shown beside the suite, never ranked."""
    return label in REFERENCES or label.startswith("sklearn:")


def ok_steps(folder: Folder) -> pd.DataFrame:
    results = folder.results
    return results[(results["kind"] == "step") & (results["status"] == "ok")]


def in_sweep(rows: pd.DataFrame, sweep: str) -> pd.DataFrame:
    return rows[rows["sweep"].str.split("+").apply(lambda tags: sweep in tags)]


def scaling_curves(steps: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """``(title, x column, rows)`` of each scaling curve: the batch curve of each model (``batch size
    (cifar-cnn)``, ``batch_size``), then the width curve of mnist's shape (``hidden width``, ``hidden_width``)."""
    curves = [(f"batch size ({model})", "batch_size", rows)
              for model, rows in in_sweep(steps, "batch").groupby("model", sort=False)]
    width = in_sweep(steps, "width")
    return curves + ([("hidden width", "hidden_width", width)] if not width.empty else [])
