"""Steady-state timing of one train-step callable in one process (DESIGN.md section 5).

``step()`` runs one train step and returns the framework's native loss; ``float(loss)`` forces completion (a
readback, which also covers JAX's block_until_ready). :func:`measure` runs:

1. the fixed check run: ``check_steps`` calls, each read back. The first call's time is ``compile_s`` (trace,
   compile, first allocation); the rest are warm-up (≥ 2 of them). The loss returned by call ``check_steps`` (the
   loss after ``check_steps − 1`` updates from the seeded init, on the seeded batch) is ``final_loss``: the same
   number of steps on every backend, whatever the timing below does, so it compares like for like;
2. calibration: a block of k steps read back once at its end, k doubled until a block lasts ≥ ``block_s``;
   k = 1 without a calibration block when a warm-up call alone lasted ≥ ``block_s`` (a larger model's step);
3. ``repeats`` blocks (fewer if they pass ``max_timed_s``, never fewer than 3); per-step time = block time / k.

For a minimal loop, step 3 rotates (:func:`rotating_blocks`): the suite model of the mode it mirrors (and the
loop's guarded twin, where it has one), put through steps 1 and 2 in the same process, and the loop are timed in
alternating blocks, so their ratio sees one
stretch of machine time instead of two processes' (DESIGN.md section 5, "References like for like").

Garbage collection is off inside every block (:func:`gc_paused`), as :mod:`timeit` does, so a collection
triggered by the framework's allocations never lands in one block and not in another. The process's figure is
the median of its blocks; every block's per-step time is kept (``block_s``) for the interval computation of
:mod:`benchmarks.stats`.
"""

from __future__ import annotations

import gc
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

NOISY_IQR_FRACTION = 0.10


@dataclass
class Timing:
    compile_s: float
    warmup_s: float
    final_loss: float
    check_steps: int
    steps_per_block: int
    block_s: list[float] = field(default_factory=list)

    @property
    def blocks(self) -> int:
        return len(self.block_s)

    @property
    def step_median_s(self) -> float:
        return float(np.median(self.block_s))

    @property
    def step_iqr_s(self) -> float:
        q1, q3 = np.percentile(self.block_s, [25, 75])
        return float(q3 - q1)

    @property
    def noisy(self) -> bool:
        """IQR/median above 10 %: the machine was not quiet enough for this process's number to be trusted."""
        return self.step_iqr_s > NOISY_IQR_FRACTION * self.step_median_s


@contextmanager
def gc_paused() -> Iterator[None]:
    """Garbage collection off for the block, then back to how the caller had it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def timed_block(step: Callable[[], Any], k: int) -> float:
    """Seconds for ``k`` calls of ``step`` and the readback of the last loss, with garbage collection off."""
    with gc_paused():
        start = time.perf_counter()
        loss = None
        for _ in range(k):
            loss = step()
        float(loss)
        return time.perf_counter() - start


def check_run(step: Callable[[], Any], check_steps: int) -> tuple[float, float, float]:
    """Run the fixed check run; return ``(compile_s, warmup_s, final_loss)``."""
    start = time.perf_counter()
    loss = float(step())
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(check_steps - 1):
        loss = float(step())
    return compile_s, time.perf_counter() - start, loss


def calibrate(step: Callable[[], Any], block_s: float) -> int:
    """Steps per block: k doubled (or scaled up) until one block of k steps lasts ≥ ``block_s``."""
    k = 1
    while (elapsed := timed_block(step, k)) < block_s:
        k = max(2 * k, math.ceil(k * 1.2 * block_s / max(elapsed, 1e-9)))
    return k


def warm_up(step: Callable[[], Any], check_steps: int, block_s: float) -> tuple[float, float, float, int]:
    """The check run, then the steps per block: ``(compile_s, warmup_s, final_loss, k)``."""
    if check_steps < 3:
        raise ValueError("check_steps must be at least 3 (a first call and two warm-up calls)")
    compile_s, warmup_s, final_loss = check_run(step, check_steps)
    k = 1 if warmup_s / (check_steps - 1) >= block_s else calibrate(step, block_s)
    return compile_s, warmup_s, final_loss, k


def measure(step: Callable[[], Any], *, check_steps: int = 5, block_s: float = 0.02, repeats: int = 7,
            max_timed_s: float = 1.0, before_blocks: Callable[[], None] | None = None) -> Timing:
    """Time ``step`` as described in the module docstring; ``before_blocks`` is called just before the timed
    blocks start (after the check run and the calibration)."""
    compile_s, warmup_s, final_loss, k = warm_up(step, check_steps, block_s)
    blocks = rotating_blocks([(step, k)], repeats, max_timed_s, before_blocks)[0]
    return Timing(compile_s, warmup_s, final_loss, check_steps, k, blocks)


def rotating_blocks(steps: list[tuple[Callable[[], Any], int]], repeats: int, max_timed_s: float,
                    before_first: Callable[[], None] | None = None) -> list[list[float]]:
    """Per-step seconds of ``repeats`` rounds of blocks timed back to back, one block of each ``(step, k)`` per
    round (fewer rounds once ``max_timed_s`` is spent, never < 3), as one list per step. The order reverses every
    round (a, b, c; c, b, a; …), so a drift of the machine within a round favours none; ``before_first`` is called
    just before the first block starts."""
    if before_first is not None:
        before_first()
    per_step: list[list[float]] = [[] for _ in steps]
    timed = 0.0
    rounds = 0
    while rounds < repeats and (rounds < 3 or timed < max_timed_s):
        order = range(len(steps)) if rounds % 2 == 0 else reversed(range(len(steps)))
        for index in order:
            step, k = steps[index]
            elapsed = timed_block(step, k)
            timed += elapsed
            per_step[index].append(elapsed / k)
        rounds += 1
    return per_step
