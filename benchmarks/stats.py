"""Intervals for the benchmark's figures, and the tie rule (DESIGN.md section 5, "Uncertainty").

A cell's data are its processes, one per round, each with the per-step times of its timed blocks. Its figure is the
median over processes of each process's median block. An interval comes from a two-level bootstrap, which accounts
for both sources of spread: each replicate draws the processes with replacement (the between-process spread, 20–50 %
on this shared host) and, inside each drawn process, its blocks with replacement (the within-process spread), then
recomputes the figure. The 95 % interval is the 2.5 and 97.5 percentiles of :data:`RESAMPLES` replicates, drawn
from a fixed seed so that a report is reproducible from its CSV files.

A ratio of two cells is bootstrapped the same way, its numerator and denominator recomputed in every replicate.
When both cells have processes in the same rounds, the rounds are drawn together (a paired bootstrap): the design
interleaves the cells round by round so that both see the same stretches of machine time, and drawing by round
keeps that pairing. Otherwise the two cells are drawn independently.

With R processes the between-process level cannot say more than its R process medians: with R = 3 a cell's
interval is about the range of its three process medians. With R = 1 (``--quick``) only the within-process spread is
left, and the report says so.

The tie rule: in a row, the fastest label wins only when the interval of every other label's ratio to it lies
above 1, which holds in particular for the runner-up; otherwise the row is a tie between the fastest and every
label whose interval includes 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RESAMPLES = 4000
CONFIDENCE = 0.95
SEED = 0

Samples = dict[int, np.ndarray]  # round number -> that process's per-step (or per-epoch) block times


@dataclass(frozen=True)
class Interval:
    """A figure and its 95 % interval."""

    value: float
    low: float
    high: float

    def excludes(self, x: float) -> bool:
        return self.low > x or self.high < x

    def text(self, fmt: str = ".2f", unit: str = "×") -> str:
        return f"{self.value:{fmt}}{unit} [{self.low:{fmt}}–{self.high:{fmt}}]"


def samples_from(rounds: list[int], blocks: list[list[float]]) -> Samples:
    """:data:`Samples` from parallel lists of round numbers and block lists (empty block lists are dropped)."""
    return {int(r): np.asarray(b, dtype=float) for r, b in zip(rounds, blocks) if len(b)}


def estimate(samples: Samples) -> float:
    """The median of the process medians."""
    return float(np.median([np.median(blocks) for blocks in samples.values()]))


def _within(samples: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """(RESAMPLES, P): for each process, the medians of its blocks resampled with replacement."""
    out = np.empty((RESAMPLES, len(samples)))
    for j, blocks in enumerate(samples):
        picks = rng.integers(0, len(blocks), (RESAMPLES, len(blocks)))
        out[:, j] = np.median(blocks[picks], axis=1)
    return out


def _figures(medians: np.ndarray, picks: np.ndarray) -> np.ndarray:
    """(RESAMPLES,): the median over the drawn processes of each replicate."""
    return np.median(np.take_along_axis(medians, picks, axis=1), axis=1)


def _interval(value: float, replicates: np.ndarray) -> Interval:
    tail = (1.0 - CONFIDENCE) / 2
    low, high = np.quantile(replicates, [tail, 1.0 - tail])
    return Interval(value, float(low), float(high))


def cell_interval(samples: Samples) -> Interval:
    """A cell's figure and its two-level bootstrap interval."""
    rng = np.random.default_rng(SEED)
    processes = list(samples.values())
    medians = _within(processes, rng)
    picks = rng.integers(0, len(processes), (RESAMPLES, len(processes)))
    return _interval(estimate(samples), _figures(medians, picks))


def ratio_interval(numerator: Samples, denominator: Samples) -> Interval:
    """``figure(numerator) / figure(denominator)`` and its interval, paired by round when the rounds match."""
    rng = np.random.default_rng(SEED)
    value = estimate(numerator) / estimate(denominator)
    if sorted(numerator) == sorted(denominator):
        rounds = sorted(numerator)
        top = _within([numerator[r] for r in rounds], rng)
        bottom = _within([denominator[r] for r in rounds], rng)
        picks = rng.integers(0, len(rounds), (RESAMPLES, len(rounds)))
        return _interval(value, _figures(top, picks) / _figures(bottom, picks))
    top = _within(list(numerator.values()), rng)
    bottom = _within(list(denominator.values()), rng)
    top_picks = rng.integers(0, len(numerator), (RESAMPLES, len(numerator)))
    bottom_picks = rng.integers(0, len(denominator), (RESAMPLES, len(denominator)))
    return _interval(value, _figures(top, top_picks) / _figures(bottom, bottom_picks))


@dataclass(frozen=True)
class Ranking:
    """The verdict of one row: its fastest label, each other label's ratio to it, and the labels tied with it."""

    fastest: str
    ratios: dict[str, Interval]
    tied: tuple[str, ...]

    @property
    def runner_up(self) -> str | None:
        others = [label for label in self.ratios if label != self.fastest]
        return min(others, key=lambda label: self.ratios[label].value) if others else None

    @property
    def win(self) -> bool:
        """True when the fastest is faster than every other label with 95 % confidence (and there is another)."""
        return self.runner_up is not None and len(self.tied) == 1


def rank(cells: dict[str, Samples]) -> Ranking:
    """Rank a row of cells by their figure (lower is faster) and apply the tie rule."""
    fastest = min(cells, key=lambda label: estimate(cells[label]))
    ratios = {label: ratio_interval(samples, cells[fastest]) if label != fastest else Interval(1.0, 1.0, 1.0)
              for label, samples in cells.items()}
    tied = (fastest, *sorted((label for label, ratio in ratios.items() if label != fastest and ratio.low <= 1.0),
                             key=lambda label: ratios[label].value))
    return Ranking(fastest, ratios, tied)
