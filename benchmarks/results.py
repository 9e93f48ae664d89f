"""The results store: ``results.csv`` (one row per cell) and ``curves.csv`` (time-to-accuracy loss curves).

Rows are appended as each cell finishes by rewriting the whole file to a temporary name and ``os.replace``-ing it,
so a reader (or a Ctrl-C) never sees a half-written file.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

COLUMNS = ["sweep", "kind", "backend", "mode", "label", "model", "batch_size", "threads", "dtype", "status", "error",
           "compile_s", "warmup_s", "step_median_s", "step_iqr_s", "noisy", "samples_per_s", "gflops",
           "pct_of_peak", "flops_per_step", "peak_rss_mb", "final_loss", "check_steps", "threads_verified",
           "cpu_per_wall", "os_threads", "framework_threads", "affinity", "steps_per_block", "blocks", "repeats",
           "tta_s", "tta_epochs", "epochs_run", "epoch_s", "test_accuracy", "hidden_width", "cell_wall_s",
           "rounds", "round_medians_s"]
CURVE_COLUMNS = ["backend", "mode", "label", "model", "threads", "dtype", "epoch", "wall_s", "loss", "test_accuracy"]


def write_atomic(path: Path, columns: list[str], rows: list[dict]) -> None:
    """Write ``rows`` as CSV to ``path`` via a temporary file and ``os.replace``."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({key: _cell_text(row.get(key)) for key in columns} for row in rows)
    os.replace(tmp, path)


def _cell_text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def row_key(row: dict) -> tuple:
    """The :attr:`benchmarks.cells.Cell.key` of a stored row."""
    return (row["kind"], row["backend"], row["mode"], row["model"], int(row["batch_size"]), int(row["threads"]),
            row["dtype"])


class ResultStore:
    """The rows of one output folder; ``resume`` keeps the rows already there, otherwise the folder starts empty."""

    def __init__(self, out: Path, resume: bool) -> None:
        self.out = out
        self.results_path = out / "results.csv"
        self.curves_path = out / "curves.csv"
        self.rows = read_rows(self.results_path) if resume else []
        self.curves = read_rows(self.curves_path) if resume else []
        if not resume:
            write_atomic(self.results_path, COLUMNS, [])
            write_atomic(self.curves_path, CURVE_COLUMNS, [])

    def finished(self) -> set[tuple]:
        """Keys of cells that completed with status ok (error cells are run again on resume)."""
        return {row_key(row) for row in self.rows if row["status"] == "ok"}

    def gemm_peak(self, threads: int) -> float | None:
        for row in self.rows:
            if row["kind"] == "gemm" and row["status"] == "ok" and int(row["threads"]) == threads:
                return float(row["gflops"])
        return None

    def row(self, key: tuple) -> dict | None:
        """The stored row of cell ``key``, if any."""
        return next((row for row in self.rows if row_key(row) == key), None)

    def add(self, row: dict, curve: list[dict] | None = None) -> None:
        """Replace the earlier row of the same cell in its place (the report orders its columns by first
        appearance), or append a new one, and rewrite the files."""
        key = row_key(row)
        keys = [row_key(old) for old in self.rows]
        if key in keys:
            self.rows[keys.index(key)] = row
        else:
            self.rows.append(row)
        write_atomic(self.results_path, COLUMNS, self.rows)
        if curve is not None:
            label = (row["backend"], row["mode"], row["model"], str(row["threads"]), row["dtype"])
            self.curves = [old for old in self.curves if (old["backend"], old["mode"], old["model"],
                                                          str(old["threads"]), old["dtype"]) != label]
            self.curves += [{**{k: row[k] for k in ("backend", "mode", "label", "model", "threads", "dtype")},
                             **point} for point in curve]
            write_atomic(self.curves_path, CURVE_COLUMNS, self.curves)
