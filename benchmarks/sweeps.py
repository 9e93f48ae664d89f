"""The sweeps: which models, labels, scaling points and time-to-accuracy runs a benchmark run times, and how often.

Every sweep runs every one of its cells in the same number R of fresh processes, interleaved round by round
(:mod:`benchmarks.schedule`). Three sweeps:

- ``default`` (``python -m benchmarks.run``, R = 3; :mod:`benchmarks.budget` estimates it within its 15-minute
  budget on a 2-vCPU machine, its processes forked from servers that imported each framework once): the model
  tables at all cores with NumPy and each framework's best mode (:data:`BEST_MODES`), and the textbook NumPy mode
  beside the fast one except on the designated larger models (``BenchModel.large``); the same-mode minimal loops of
  the best modes on the dispatch-bound and the mid-sized model (xor, mnist); the batch scaling curves of mnist
  (1, 128, 1024) and cifar-cnn (16, 32, 64) and the width curve of mnist's shape with the best modes; time to
  accuracy on digits (NumPy, torch eager, JAX, scikit-learn) and on MNIST with LeNet-5 (NumPy, torch eager, JAX).
- ``full`` (``--sweep full``, R = 3): every mode of every backend and every minimal loop on every model, the
  1-thread model table, and every label in the scaling curves and time to accuracy.
- ``quick`` (``--quick``, ≤ 90 s, R = 1, labelled so in the report): digits with NumPy, the best modes and
  their minimal loops; time to accuracy on digits for NumPy, JAX and scikit-learn.

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
    (designated larger models always do). ``batch_curves`` are the batch-scaling curves, (model, batch sizes) each;
    ``scaling_model`` is the shape of the width curve. ``tta`` lists the time-to-accuracy tasks
    (:data:`benchmarks.time_to_accuracy.TASKS`), each with its labels (None: every label of the sweep's label pool
    that can train it). ``also_modes`` are suite modes timed beside the best ones in a sweep that is not
    ``every_mode``, on every model but the designated larger ones: the textbook NumPy mode beside the fast one, so
    the report shows what the fast mode's engineering buys.
    """

    name: str
    every_mode: bool
    models: tuple[str, ...] | None
    reference_models: tuple[str, ...] | None
    one_thread_models: tuple[str, ...]
    batch_curves: tuple[tuple[str, tuple[int, ...]], ...]
    scaling_model: str
    widths: tuple[int, ...]
    tta: tuple[tuple[str, tuple[str, ...] | None], ...]
    gemm_size: int
    rounds: int
    repeats: int
    cell_timeout_s: float
    block_s: float = 0.02
    max_timed_s: float = 1.0
    public_epochs: int = 5
    also_modes: tuple[str, ...] = ()


DEFAULT = SweepConfig(name="default", every_mode=False, models=None, reference_models=("xor", "mnist"),
                      one_thread_models=(), batch_curves=(("mnist", (1, 128, 1024)), ("cifar-cnn", (16, 32, 64))),
                      scaling_model="mnist", widths=(32, 256, 4096),
                      tta=(("digits", ("numpy:eager", "torch:eager", "jax:jit", "sklearn:sklearn")),
                           ("mnist-lenet5", ("numpy:eager", "torch:eager", "jax:jit"))),
                      gemm_size=2048, rounds=3, repeats=7, cell_timeout_s=180.0, also_modes=("numpy:reference",))
FULL = SweepConfig(name="full", every_mode=True, models=None, reference_models=None, one_thread_models=("mnist",),
                   batch_curves=(("mnist", (1, 128, 1024)), ("cifar-cnn", (16, 32, 64))), scaling_model="mnist",
                   widths=(32, 256, 4096), tta=(("digits", None), ("mnist-lenet5", None)), gemm_size=2048, rounds=3,
                   repeats=7, cell_timeout_s=240.0)
QUICK = SweepConfig(name="quick", every_mode=False, models=("digits",), reference_models=None, one_thread_models=(),
                    batch_curves=(), scaling_model="mnist", widths=(),
                    tta=(("digits", ("numpy:eager", "jax:jit", "sklearn:sklearn")),), gemm_size=1024,
                    rounds=1, repeats=3, cell_timeout_s=60.0, max_timed_s=0.5, public_epochs=3)
SWEEPS = {config.name: config for config in (DEFAULT, FULL, QUICK)}


def best_mode(backend: str, modes: tuple[str, ...]) -> str:
    """The backend's best mode (:data:`BEST_MODES`), or its default mode when none is listed or available."""
    mode = BEST_MODES.get(backend)
    return mode if mode in modes else modes[0]
