"""Steady-state timing of one train-step callable (DESIGN.md section 5).

``step()`` runs one train step and returns the framework's native loss; ``float(loss)`` forces completion (a
readback, which also covers JAX's block_until_ready). The sequence is:

1. the fixed check run: ``check_steps`` calls, each read back. The first call's time is ``compile_s`` (trace,
   compile, first allocation); the rest are warm-up (≥ 2 of them). The loss returned by call ``check_steps`` (the
   loss after ``check_steps − 1`` updates from the seeded init, on the seeded batch) is ``final_loss``: the same
   number of steps on every backend, whatever the timing below does, so it compares like for like;
2. calibration: a block of k steps read back once at its end, k doubled until a block lasts ≥ ``block_s``;
3. ``repeats`` blocks (fewer if they pass ``max_timed_s``, never fewer than 3); per-step time = block time / k.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

NOISY_IQR_FRACTION = 0.10


@dataclass
class Timing:
    compile_s: float
    warmup_s: float
    final_loss: float
    check_steps: int
    steps_per_block: int
    blocks: int
    step_median_s: float
    step_iqr_s: float
    timed_s: float

    @property
    def noisy(self) -> bool:
        """IQR/median above 10 %: the machine was not quiet enough for this cell's number to be trusted."""
        return self.step_iqr_s > NOISY_IQR_FRACTION * self.step_median_s


def _block(step: Callable[[], Any], k: int) -> float:
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


def measure(step: Callable[[], Any], *, check_steps: int = 10, block_s: float = 0.02, repeats: int = 7,
            max_timed_s: float = 3.0, on_block: Callable[[], None] | None = None) -> Timing:
    """Time ``step`` as described in the module docstring. ``on_block`` is called after each timed block."""
    if check_steps < 3:
        raise ValueError("check_steps must be at least 3 (a first call and two warm-up calls)")
    compile_s, warmup_s, final_loss = check_run(step, check_steps)
    k = 1
    while (elapsed := _block(step, k)) < block_s:
        k = max(2 * k, math.ceil(k * 1.2 * block_s / max(elapsed, 1e-9)))
    per_step: list[float] = []
    timed = 0.0
    while len(per_step) < repeats and (len(per_step) < 3 or timed < max_timed_s):
        elapsed = _block(step, k)
        timed += elapsed
        per_step.append(elapsed / k)
        if on_block is not None:
            on_block()
    q1, median, q3 = np.percentile(per_step, [25, 50, 75])
    return Timing(compile_s, warmup_s, final_loss, check_steps, k, len(per_step), float(median), float(q3 - q1),
                  timed)
