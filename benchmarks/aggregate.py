"""One cell's row of ``results.csv`` from the rows of its processes in ``processes.csv``.

The cell's figure is the median of its process medians (:func:`benchmarks.stats.estimate`) with the two-level
bootstrap interval of :mod:`benchmarks.stats`; every process median is kept (``round_medians_s``). Other timings
(compile, warm-up, IQR, public step, time to accuracy) are medians over processes as well; a cell is ``noisy`` when
any of its processes was, and ``threads_verified`` only when all were. A ``tta`` cell's blocks are its steady
epochs, so its interval is computed on epoch times and scaled to one step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .stats import cell_interval, samples_from

LIST_FIELDS = ("block_s", "public_block_s", "paired_ratios", "guarded_ratios")
PROCESS_ONLY = ("round", *LIST_FIELDS, "traceback", "public_median_s")


def number(value: Any) -> float:
    """A float from a row value (CSV text, number, None or ``""``); NaN when there is none."""
    if value is None or value == "":
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def floats(value: Any) -> list[float]:
    """A list of floats from a list or its ``;``-joined text."""
    if isinstance(value, (list, tuple)):
        return [float(v) for v in value]
    return [float(v) for v in str(value or "").split(";") if v]


def truthy(value: Any) -> bool:
    return str(value) == "True"


def _median(rows: list[dict], key: str) -> float:
    values = [number(row.get(key)) for row in rows]
    values = [v for v in values if not math.isnan(v)]
    return float(np.median(values)) if values else math.nan


def samples(rows: list[dict], field: str = "block_s"):
    """The :data:`benchmarks.stats.Samples` of the ok process rows ``rows`` in list field ``field``."""
    return samples_from([int(number(row["round"])) for row in rows], [floats(row.get(field)) for row in rows])


def cell_row(processes: list[dict]) -> dict:
    """The ``results.csv`` row of one cell from its process rows (any order, ok or not)."""
    processes = sorted(processes, key=lambda row: number(row["round"]))
    ok = [row for row in processes if row.get("status") == "ok"]
    failed = [row for row in processes if row.get("status") != "ok"]
    if not ok:
        last = {key: value for key, value in processes[-1].items() if key not in PROCESS_ONLY}
        return {**last, "rounds": 0, "round_medians_s": "", "error": _failures(failed, len(processes))}
    row = {key: value for key, value in ok[-1].items() if key not in PROCESS_ONLY}
    row.update(status="ok", error=_failures(failed, len(processes)), rounds=len(ok),
               round_medians_s=";".join(repr(number(p["step_median_s"])) for p in ok),
               compile_s=_median(ok, "compile_s"), warmup_s=_median(ok, "warmup_s"),
               step_iqr_s=_median(ok, "step_iqr_s"), noisy=any(truthy(p.get("noisy")) for p in ok),
               threads_verified=all(truthy(p.get("threads_verified")) for p in ok),
               peak_rss_mb=max(number(p.get("peak_rss_mb")) for p in ok),
               cpu_per_wall=max(number(p.get("cpu_per_wall")) for p in ok),
               cell_wall_s=float(np.mean([number(p.get("cell_wall_s")) for p in ok])))
    interval = cell_interval(samples(ok))
    scale = 1.0
    if row["kind"] == "tta":
        scale = _median(ok, "step_median_s") / _median(ok, "epoch_s")
        row.update(epoch_s=interval.value, tta_s=_median(ok, "tta_s"), tta_epochs=_median(ok, "tta_epochs"),
                   epochs_run=_median(ok, "epochs_run"))
    row.update(step_median_s=interval.value * scale, step_ci_low_s=interval.low * scale,
               step_ci_high_s=interval.high * scale)
    public = [p for p in ok if floats(p.get("public_block_s"))]
    if public:
        public_interval = cell_interval(samples(public, "public_block_s"))
        key = "public_epoch_s" if row["kind"] == "tta" else "public_step_s"
        row.update({key: public_interval.value, "public_ci_low_s": public_interval.low,
                    "public_ci_high_s": public_interval.high})
    step = number(row["step_median_s"])
    if row["kind"] == "step":
        row.update(samples_per_s=number(row["batch_size"]) / step)
    if row["kind"] in ("step", "gemm"):
        row.update(gflops=number(row.get("flops_per_step")) / step / 1e9)
    return row


def _failures(failed: list[dict], total: int) -> str:
    if not failed:
        return ""
    return f"{len(failed)} of {total} processes failed: {failed[0].get('error', '')}"[:500]
