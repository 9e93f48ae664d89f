"""What to run: cells (one subprocess per cell and round) and the labels of each row of a sweep.

A cell is ``kind`` × backend × mode × model × batch size × threads × dtype. Kinds:

- ``step``: steady-state train-step timing (:mod:`benchmarks.timing`), the fixed final-loss check run and, for a
  suite backend, the public ``model.train_step`` beside the native step;
- ``tta``: time to 95 % test accuracy on a task of :mod:`benchmarks.time_to_accuracy` (its model column names the
  task);
- ``gemm``: the machine's float32 GEMM peak with NumPy (:mod:`benchmarks.gemm`).

A label is ``backend:mode``: a registry backend and one of its modes, a minimal loop of
:mod:`benchmarks.reference_loops` (``jax-minimal:jit-donate``), or ``sklearn:sklearn`` (``MLPClassifier``, time to
accuracy only). Which labels a row gets is the sweep's choice (:mod:`benchmarks.sweeps`) unless ``--backends`` or
``--modes`` name them.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import asdict, dataclass, field, replace

from backprop.registry import BACKENDS, available_backends
from backprop.spec import as_spec

from .models import BenchModel, named_models, resolve_model
from .reference_loops import REFERENCE_BACKENDS, REFERENCES, supports
from .sweeps import SweepConfig, best_mode
from .time_to_accuracy import TASKS, Task

SKLEARN = ("sklearn", "sklearn")


def all_cores() -> int:
    return len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class Cell:
    """One measurement; each of its rounds runs in its own fresh subprocess."""

    kind: str
    backend: str
    mode: str
    model: str
    batch_size: int
    threads: int
    dtype: str = "float32"
    repeats: int = 7
    sweep: str = ""
    spec: dict = field(default_factory=dict, compare=False)

    @property
    def key(self) -> tuple:
        """Identity of the cell (the sweep tag is not part of it: a cell shared by two sweeps runs once)."""
        return (self.kind, self.backend, self.mode, self.model, int(self.batch_size), int(self.threads), self.dtype)

    @property
    def label(self) -> str:
        return f"{self.backend}:{self.mode}"

    def to_dict(self) -> dict:
        return asdict(self)


def framework_available(framework: str) -> bool:
    return framework in available_backends()


def reference_pairs(backend: str) -> list[tuple[str, str]]:
    """The ``(backend, mode)`` pairs of a minimal-loop backend whose framework is installed."""
    return [(ref.backend, ref.mode) for ref in REFERENCES.values()
            if ref.backend == backend and framework_available(ref.framework)]


def labels(backends: list[str] | None, modes: list[str] | None) -> list[tuple[str, str]]:
    """``(backend, mode)`` pairs named on the command line: every mode of the chosen backends, then filtered.

    ``backends`` None means every installed backend, every available minimal loop and sklearn. ``modes`` filters by
    ``backend:mode`` labels or plain mode names (``compile`` selects torch:compile and torch-minimal:compile).
    """
    sklearn = [SKLEARN[0]] if importlib.util.find_spec("sklearn") is not None else []
    chosen = backends or [*available_backends(), *REFERENCE_BACKENDS, *sklearn]
    pairs: list[tuple[str, str]] = []
    for name in chosen:
        if name == SKLEARN[0]:
            pairs.append(SKLEARN)
        elif name in REFERENCE_BACKENDS:
            pairs.extend(reference_pairs(name))
        elif name in BACKENDS:
            pairs.extend((name, mode) for mode in BACKENDS[name].modes)
        else:
            known = [*BACKENDS, *REFERENCE_BACKENDS, SKLEARN[0]]
            raise ValueError(f"--backends: unknown backend {name!r}; known: {', '.join(known)}")
    if modes:
        wanted = set(modes)
        unknown = wanted - {f"{b}:{m}" for b, m in pairs} - {m for _, m in pairs}
        if unknown:
            raise ValueError(f"--modes: {', '.join(sorted(unknown))} match no selected backend; choose from "
                             f"{', '.join(f'{b}:{m}' for b, m in pairs)}")
        pairs = [(b, m) for b, m in pairs if f"{b}:{m}" in wanted or m in wanted]
    return pairs


def suite_labels(config: SweepConfig, selection: list[tuple[str, str]] | None,
                 bench: BenchModel | None = None) -> list[tuple[str, str]]:
    """The registry labels of a row: the selection's, or every mode (full) / the best mode and the sweep's
    ``also_modes`` (otherwise; the best mode alone on a designated larger ``bench``) of every installed backend."""
    if selection is not None:
        return [(b, m) for b, m in selection if b in BACKENDS]
    also = () if bench is not None and bench.large else config.also_modes
    pairs = []
    for name in available_backends():
        modes = BACKENDS[name].modes
        if config.every_mode:
            pairs += [(name, mode) for mode in modes]
        else:
            pairs += [(name, best_mode(name, modes))]
            pairs += [(name, mode) for mode in modes if f"{name}:{mode}" in also]
    return pairs


def reference_labels(config: SweepConfig, selection: list[tuple[str, str]] | None, suite: list[tuple[str, str]],
                     bench: BenchModel) -> list[tuple[str, str]]:
    """The minimal loops of a row: the selection's, or those mirroring the row's suite labels (all of them in the
    full sweep, the like-for-like ones otherwise) where the sweep gives this model minimal loops: every model in
    the full sweep, the sweep's ``reference_models`` otherwise. A designated larger model gets its loops in the
    full sweep only: at R = 3 they alone would add ~7 minutes to the default sweep."""
    if not supports(as_spec(bench.spec)):
        return []
    if selection is not None:
        return [(b, m) for b, m in selection if f"{b}:{m}" in REFERENCES]
    chosen = config.reference_models is None or bench.name in config.reference_models
    if not (config.every_mode or (chosen and not bench.large)):
        return []
    mirrored = {f"{b}:{m}" for b, m in suite}
    return [(ref.backend, ref.mode) for ref in REFERENCES.values()
            if ref.suite_label in mirrored and (config.every_mode or ref.like_for_like)]


def tta_labels(config: SweepConfig, selection: list[tuple[str, str]] | None, task: Task,
               wanted: tuple[str, ...] | None) -> list[tuple[str, str]]:
    """The time-to-accuracy labels of ``task``: the sweep's pool (or the selection) filtered by ``wanted`` (None:
    all) and by what can train the task (scikit-learn a dense digits network, minimal loops what they support)."""
    bench = BenchModel(task.name, task.spec, task.batch_size)
    sklearn = [SKLEARN] if task.sklearn and importlib.util.find_spec("sklearn") is not None else []
    if selection is not None:
        loops = reference_labels(config, selection, suite_labels(config, selection), bench)
        pool = [pair for pair in selection if pair[0] in BACKENDS or pair in loops or pair in sklearn]
    else:
        suite = suite_labels(config, None, bench)
        pool = [*suite, *reference_labels(config, None, suite, bench), *sklearn]
    return [(b, m) for b, m in pool if wanted is None or f"{b}:{m}" in wanted]


def width_model(width: int) -> str:
    """The width-scaling family: mnist's shape, 784 inputs, two hidden relu layers of ``width``, 10 classes."""
    return f"mlp:784-{width}-{width}-10:relu"


def plan(config: SweepConfig, selection: list[tuple[str, str]] | None = None, *, models: list[str] | None = None,
         batch_sizes: list[int] | None = None, threads: list[int] | None = None, dtype: str = "float32",
         repeats: int | None = None) -> list[Cell]:
    """Every cell of the sweep, de-duplicated by :attr:`Cell.key` (sweep tags of duplicates are merged).

    Sweeps: ``peak`` (GEMM for each thread count used), ``models`` (each model at its default batch at all cores,
    plus 1 thread for ``one_thread_models``; minimal loops only at the top thread count), ``batch`` and ``width``
    (scaling curves of the registry labels at all cores), ``tta`` (the time-to-accuracy tasks, all cores). Explicit
    ``threads`` apply to every model; explicit ``models`` replace the model list, explicit ``batch_sizes`` the sizes
    of the batch curves (of ``scaling_model`` in a sweep without any), and both given time every model at every size
    with no batch curve; either drops the width and time-to-accuracy sweeps. ``selection`` (labels named on the
    command line) replaces the sweep's own choice of labels. Model names are resolved by
    :func:`benchmarks.models.resolve_model`; two entries that name different networks by one name are a ValueError.
    """
    cores = all_cores()
    top = max(threads) if threads else cores
    repeats = repeats or config.repeats
    custom = models is not None or batch_sizes is not None
    cells: list[Cell] = []

    def add(kind: str, backend: str, mode: str, bench: BenchModel, batch: int, n_threads: int, sweep: str) -> None:
        cells.append(Cell(kind, backend, mode, bench.name, batch, n_threads, dtype, repeats, sweep, bench.spec))

    def scaling(bench: BenchModel) -> list[tuple[str, str]]:
        """The scaling curves' labels: the best modes (the sweep's also_modes appear in the model tables only)."""
        suite = suite_labels(config, selection, bench)
        return suite if selection is not None else [(b, m) for b, m in suite if f"{b}:{m}" not in config.also_modes]

    for bench in unique_models(models or config.models or list(named_models())):
        suite = suite_labels(config, selection, bench)
        counts = threads or ([1, cores] if bench.name in config.one_thread_models else [cores])
        for batch in (batch_sizes if batch_sizes is not None and models is not None else [bench.batch_size]):
            for n in sorted(set(counts), reverse=True):
                loops = reference_labels(config, selection, suite, bench) if n == top else []
                for backend, mode in [*suite, *loops]:
                    add("step", backend, mode, bench, batch, n, "models")
    if models is not None:
        curves = []
    elif batch_sizes is not None:
        curves = [(name, batch_sizes) for name in [name for name, _ in config.batch_curves] or [config.scaling_model]]
    else:
        curves = list(config.batch_curves)
    for name, sizes in curves:
        bench = resolve_model(name)
        for batch in sizes:
            for backend, mode in scaling(bench):
                add("step", backend, mode, bench, batch, top, "batch")
    if not custom:
        shape = resolve_model(config.scaling_model)
        for width in config.widths:
            bench = resolve_model(width_model(width))
            bench = shape if bench.spec == shape.spec else bench
            for backend, mode in scaling(bench):
                add("step", backend, mode, bench, shape.batch_size, top, "width")
        for name, wanted in config.tta:
            task = TASKS[name]
            bench = BenchModel(task.name, task.spec, task.batch_size)
            for backend, mode in tta_labels(config, selection, task, wanted):
                add("tta", backend, mode, bench, task.batch_size, top, "tta")
    steps = cells
    cells = []
    for n in sorted({cell.threads for cell in steps}):
        cells.append(Cell("gemm", "numpy", "sgemm", f"gemm-{config.gemm_size}", config.gemm_size, n, dtype, repeats,
                          "peak"))
    return merge(cells + steps)


def unique_models(names: list[str]) -> list[BenchModel]:
    """The models of ``names``, each once; a ValueError when two of them give one name to different networks (a
    spec file ``mnist.json`` beside the named mnist, or two ``net.json`` in different folders)."""
    chosen: dict[str, BenchModel] = {}
    for entry in names:
        bench = resolve_model(entry)
        if bench.name in chosen and chosen[bench.name].spec != bench.spec:
            raise ValueError(f"--models: {entry!r} names a model {bench.name!r} that differs from another entry's "
                             f"model of that name; rename the spec file")
        chosen.setdefault(bench.name, bench)
    return list(chosen.values())


def merge(cells: list[Cell]) -> list[Cell]:
    """Drop duplicate keys, joining their sweep tags with ``+``; the first occurrence keeps its place."""
    merged: dict[tuple, Cell] = {}
    for cell in cells:
        if cell.key in merged:
            first = merged[cell.key]
            tags = first.sweep.split("+")
            if cell.sweep not in tags:
                merged[cell.key] = replace(first, sweep="+".join([*tags, cell.sweep]))
        else:
            merged[cell.key] = cell
    return list(merged.values())
