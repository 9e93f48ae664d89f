"""The equal-rounds planner: every cell runs in the same number R of fresh processes, interleaved round by round.

Round 1 runs every cell once in sweep order, then round 2 runs them all again in the same order, and so on
(A B C, A B C, …), so every label of a row sees the same stretches of machine time and the same number of
processes, the slow rows included. Nothing depends on a time budget or on earlier timings: the schedule is a
function of the cell list and R alone. A cell's figure is the median of its process medians
(:mod:`benchmarks.aggregate`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .cells import Cell


@dataclass(frozen=True)
class Run:
    """One process to start: round ``round`` (1-based) of ``cell``."""

    round: int
    cell: Cell


def interleave(cells: list[Cell], rounds: int) -> list[Run]:
    """Every cell once per round, rounds one after the other, cells in sweep order within each round."""
    if rounds < 1:
        raise ValueError(f"rounds: expected an integer ≥ 1, got {rounds}")
    return [Run(number, cell) for number in range(1, rounds + 1) for cell in cells]


def pending(runs: list[Run], finished: set[tuple[tuple, int]]) -> list[Run]:
    """The runs whose ``(cell key, round)`` has no ok process yet (``--resume``)."""
    return [run for run in runs if (run.cell.key, run.round) not in finished]
