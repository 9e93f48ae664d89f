"""The sweeps: which models, labels, scaling points and time-to-accuracy runs a benchmark run times, and how often.

Every sweep runs every one of its cells in the same number R of fresh processes, interleaved round by round
(:mod:`benchmarks.schedule`). Three sweeps:

- ``default`` (``python -m benchmarks.run``, R = 3, ≤ 9 minutes for the current models; :mod:`benchmarks.budget`
  estimates it): the model tables at all cores with NumPy and each framework's best mode (:data:`BEST_MODES`);
  the same-mode minimal loops of those modes on the dispatch-bound and the mid-sized model (xor, mnist) and on
  every designated larger model (``BenchModel.large``); the batch and width scaling curves of mnist's shape with
  the same labels; time to accuracy for NumPy, torch eager, JAX and scikit-learn.
- ``full`` (``--sweep full``, R = 3): every mode of every backend and every minimal loop on every model, the
  1-thread model table, and every label in the scaling curves and time to accuracy.
- ``quick`` (``--quick``, ≤ 90 s, R = 1, labelled so in the report): digits with NumPy, the best modes and
  their minimal loops; time to accuracy for NumPy, JAX and scikit-learn.

The best mode of a framework is the one that was fastest on most model rows of the full sweeps so far (torch eager:
4 of 5 rows, TF xla: 4 of 5, JAX has one mode); it is a fixed choice, so that a run's cells never depend on
another run's timings. A framework whose best mode is not listed uses its default (first) mode.
"""

from __future__ import annotations

from dataclasses import dataclass

BEST_MODES = {"numpy": "eager", "torch": "eager", "tensorflow": "xla", "jax": "jit"}


@dataclass(frozen=True)
class SweepConfig:
    """The counts of one sweep (see :func:`benchmarks.cells.plan`).

    ``models`` None means every named model; ``reference_models`` None means every model gets its minimal loops
    (designated larger models always do). ``tta_labels`` None means every label of the sweep's label pool.
    ``also_modes`` are suite modes timed beside the best ones in a sweep that is not ``every_mode``: the textbook
    NumPy mode beside the fast one, so the report shows what the fast mode's engineering buys.
    """

    name: str
    every_mode: bool
    models: tuple[str, ...] | None
    reference_models: tuple[str, ...] | None
    one_thread_models: tuple[str, ...]
    scaling_model: str
    batch_sizes: tuple[int, ...]
    widths: tuple[int, ...]
    tta_labels: tuple[str, ...] | None
    tta_epochs: int
    gemm_size: int
    rounds: int
    repeats: int
    cell_timeout_s: float
    public_repeats: int = 3
    block_s: float = 0.02
    max_timed_s: float = 1.0
    public_epochs: int = 5
    also_modes: tuple[str, ...] = ()


DEFAULT = SweepConfig(name="default", every_mode=False, models=None, reference_models=("xor", "mnist"),
                      one_thread_models=(), scaling_model="mnist", batch_sizes=(1, 128, 1024),
                      widths=(32, 256, 4096),
                      tta_labels=("numpy:eager", "torch:eager", "jax:jit", "sklearn:sklearn"), tta_epochs=40,
                      gemm_size=2048, rounds=3, repeats=7, cell_timeout_s=180.0, also_modes=("numpy:reference",))
FULL = SweepConfig(name="full", every_mode=True, models=None, reference_models=None, one_thread_models=("mnist",),
                   scaling_model="mnist", batch_sizes=(1, 128, 1024), widths=(32, 256, 4096), tta_labels=None,
                   tta_epochs=40, gemm_size=2048, rounds=3, repeats=7, cell_timeout_s=240.0)
QUICK = SweepConfig(name="quick", every_mode=False, models=("digits",), reference_models=None, one_thread_models=(),
                    scaling_model="mnist", batch_sizes=(), widths=(),
                    tta_labels=("numpy:eager", "jax:jit", "sklearn:sklearn"), tta_epochs=30, gemm_size=1024,
                    rounds=1, repeats=3, cell_timeout_s=60.0, max_timed_s=0.5, public_repeats=3, public_epochs=3)
SWEEPS = {config.name: config for config in (DEFAULT, FULL, QUICK)}


def best_mode(backend: str, modes: tuple[str, ...]) -> str:
    """The backend's best mode (:data:`BEST_MODES`), or its default mode when none is listed or available."""
    mode = BEST_MODES.get(backend)
    return mode if mode in modes else modes[0]
