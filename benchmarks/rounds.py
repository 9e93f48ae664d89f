"""Extra process rounds for the close contenders of the model tables.

The machine's speed drifts over seconds (a shared host), so one cell's median can be off by 20-50 % while its
neighbours are not. After the sweep, every cell of the model tables that is close to its row's fastest, and what it
is compared with, runs again in fresh processes, interleaved round by round so that each contender sees the same
stretches of time. Its reported step time is the best of its round medians (the least-disturbed process); all round
medians are kept in ``round_medians_s``. A cell is a contender when:

- its median is within :data:`CONTENDER_RATIO` of the fastest label of the same model, batch and threads,
- it is numpy, the reference whose standing the performance targets ask about (one unlucky first process must not
  drop it from the rounds), or
- it belongs to the framework of such a label, as that framework's fastest suite mode or its minimal loop (so the
  overhead comparison of :mod:`benchmarks.report` is taken on equal rounds), or
- it is a framework's fastest suite mode or minimal loop where the first is more than :data:`OVERHEAD_TARGET` (the
  performance target for the suite's own overhead) slower than the second: a miss is then measured on rounds too.

A round reruns a model row's contenders together, and only if their last wall time still fits the sweep's budget
(rows that do not fit are left out of that round), so the contenders of one row always have the same number of
rounds.
"""

from __future__ import annotations

from .cells import REFERENCES, Cell
from .results import row_key

CONTENDER_RATIO = 1.3
OVERHEAD_TARGET = 1.1
REFERENCE = "numpy"


def framework_of(backend: str) -> str:
    """The framework a label measures: ``jax-minimal`` → ``jax``; a suite backend is its own framework."""
    return REFERENCES[backend][1] if backend in REFERENCES else backend


def contender_keys(rows: list[dict]) -> set[tuple]:
    """Keys of the model-table step cells to run again (see the module docstring)."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        if row["kind"] == "step" and row["status"] == "ok" and "models" in str(row["sweep"]).split("+"):
            groups.setdefault((row["model"], int(row["batch_size"]), int(row["threads"])), []).append(row)
    keys: set[tuple] = set()
    for group in groups.values():
        fastest = min(_median(row) for row in group)
        close = [row for row in group if _median(row) <= CONTENDER_RATIO * fastest or row["backend"] == REFERENCE]
        keys |= {row_key(row) for row in close}
        for framework in {framework_of(row["backend"]) for row in group}:
            best_mode, loops = _framework_pair(group, framework)
            overhead = best_mode is not None and any(_median(best_mode) > OVERHEAD_TARGET * _median(loop)
                                                     for loop in loops)
            if overhead or any(framework_of(row["backend"]) == framework for row in close):
                keys |= {row_key(row) for row in (best_mode, *loops) if row is not None}
    return keys


def _median(row: dict) -> float:
    return float(row["step_median_s"])


def _framework_pair(group: list[dict], framework: str) -> tuple[dict | None, list[dict]]:
    """The framework's fastest suite-mode row in ``group`` (or None) and its minimal-loop rows."""
    suite = [row for row in group if row["backend"] == framework]
    loops = [row for row in group if row["backend"] in REFERENCES and framework_of(row["backend"]) == framework]
    return (min(suite, key=_median) if suite else None), loops


def contenders(cells: list[Cell], rows: list[dict]) -> list[Cell]:
    """The cells of ``cells`` whose key is a contender, in sweep order."""
    keys = contender_keys(rows)
    return [cell for cell in cells if cell.key in keys]


def contender_rows(cells: list[Cell]) -> list[list[Cell]]:
    """``cells`` grouped by model row (model, batch size, threads), in order of first appearance."""
    rows: dict[tuple, list[Cell]] = {}
    for cell in cells:
        rows.setdefault((cell.model, cell.batch_size, cell.threads), []).append(cell)
    return list(rows.values())


def merge_round(old: dict, new: dict) -> dict:
    """The stored row after one more round: the faster round's row, with every ok round's median listed."""
    if new.get("status") != "ok":
        return old
    medians = [*str(old["round_medians_s"]).split(";"), repr(float(new["step_median_s"]))]
    best = new if float(new["step_median_s"]) < float(old["step_median_s"]) else old
    return {**best, "rounds": len(medians), "round_medians_s": ";".join(medians)}
