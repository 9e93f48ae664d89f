"""The results store: ``processes.csv`` (one row per process), ``results.csv`` (one row per cell, aggregated from
its processes by :mod:`benchmarks.aggregate`) and ``curves.csv`` (time-to-accuracy loss curves).

Every file is rewritten as each process finishes, to a temporary name and then ``os.replace``-d, so a reader (or a
Ctrl-C) never sees a half-written file. ``processes.csv`` keeps every block time, so the report's intervals can be
recomputed from the folder alone.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

from .aggregate import cell_row, number

KEY_COLUMNS = ["sweep", "kind", "backend", "mode", "label", "model", "batch_size", "threads", "dtype"]
COLUMNS = [*KEY_COLUMNS, "status", "error", "rounds", "round_medians_s", "step_median_s", "step_ci_low_s",
           "step_ci_high_s", "step_iqr_s", "noisy", "public_step_s", "public_ci_low_s", "public_ci_high_s",
           "compile_s", "warmup_s", "samples_per_s", "gflops", "pct_of_peak", "flops_per_step", "peak_rss_mb",
           "final_loss", "check_steps", "threads_verified", "cpu_per_wall", "os_threads", "framework_threads",
           "affinity", "steps_per_block", "blocks", "repeats", "tta_s", "tta_epochs", "epochs_run", "epoch_s",
           "public_epoch_s", "test_accuracy", "hidden_width", "cell_wall_s"]
PROCESS_COLUMNS = [*KEY_COLUMNS, "round", "status", "error", "step_median_s", "step_iqr_s", "noisy",
                   "steps_per_block", "blocks", "repeats", "block_s", "public_median_s", "public_block_s",
                   "paired_ratios", "guarded_ratios", "compile_s", "warmup_s", "flops_per_step", "final_loss",
                   "check_steps", "tta_s", "tta_epochs", "epochs_run", "epoch_s", "public_epoch_s", "test_accuracy",
                   "hidden_width", "threads_verified", "cpu_per_wall", "os_threads", "framework_threads", "affinity",
                   "peak_rss_mb", "cell_wall_s"]
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
    if isinstance(value, (list, tuple)):
        return ";".join(repr(float(v)) for v in value)
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


def with_peak_share(rows: list[dict]) -> list[dict]:
    """``rows`` with ``pct_of_peak`` on step rows: their GFLOP/s over the GEMM peak at the same thread count."""
    peaks = {int(row["threads"]): number(row.get("gflops")) for row in rows
             if row["kind"] == "gemm" and row.get("status") == "ok"}
    out = []
    for row in rows:
        peak = peaks.get(int(row["threads"]))
        if row["kind"] == "step" and row.get("status") == "ok" and peak:
            row = {**row, "pct_of_peak": 100.0 * number(row.get("gflops")) / peak}
        out.append(row)
    return out


class ResultStore:
    """The process rows of one output folder; ``resume`` keeps the rows already there, otherwise the folder's
    files start empty."""

    def __init__(self, out: Path, resume: bool) -> None:
        self.out = out
        self.results_path = out / "results.csv"
        self.processes_path = out / "processes.csv"
        self.curves_path = out / "curves.csv"
        self.processes = read_rows(self.processes_path) if resume else []
        self.curves = read_rows(self.curves_path) if resume else []
        self._aggregated: dict[tuple, dict] = {}
        if not resume:
            self._write()

    def finished(self) -> set[tuple[tuple, int]]:
        """``(cell key, round)`` of every process that completed with status ok (failed ones run again)."""
        return {(row_key(row), int(row["round"])) for row in self.processes if row["status"] == "ok"}

    def results(self) -> list[dict]:
        """One aggregated row per cell, in order of the cells' first process."""
        groups: dict[tuple, list[dict]] = {}
        for row in self.processes:
            groups.setdefault(row_key(row), []).append(row)
        for key, rows in groups.items():
            if key not in self._aggregated:
                self._aggregated[key] = cell_row(rows)
        return with_peak_share([self._aggregated[key] for key in groups])

    def add(self, row: dict, curve: list[dict] | None = None) -> None:
        """Store one process row (replacing an earlier row of the same cell and round) and rewrite the files.
        A time-to-accuracy curve is kept from the cell's earliest ok round."""
        key, number_ = row_key(row), int(row["round"])
        places = [i for i, old in enumerate(self.processes) if (row_key(old), int(old["round"])) == (key, number_)]
        if places:
            self.processes[places[0]] = row
        else:
            self.processes.append(row)
        self._aggregated.pop(key, None)
        if curve:
            label = (row["backend"], row["mode"], row["model"], str(row["threads"]), row["dtype"])
            earlier = [old for old in self.processes if row_key(old) == key and old["status"] == "ok"
                       and int(old["round"]) < number_]
            if not earlier:
                self.curves = [old for old in self.curves if (old["backend"], old["mode"], old["model"],
                                                              str(old["threads"]), old["dtype"]) != label]
                self.curves += [{**{k: row[k] for k in ("backend", "mode", "label", "model", "threads", "dtype")},
                                 **point} for point in curve]
        self._write()

    def _write(self) -> None:
        write_atomic(self.processes_path, PROCESS_COLUMNS, self.processes)
        write_atomic(self.results_path, COLUMNS, self.results())
        write_atomic(self.curves_path, CURVE_COLUMNS, self.curves)
