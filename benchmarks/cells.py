"""What to run: cells (one subprocess each), the labelled backend/modes, and the default and quick sweeps.

A cell is ``kind`` × backend × mode × model × batch size × threads × dtype. Kinds:

- ``step``: steady-state train-step timing (:mod:`benchmarks.timing`) plus the fixed final-loss check run;
- ``tta``: time to 95 % test accuracy on scikit-learn's digits (:mod:`benchmarks.time_to_accuracy`);
- ``gemm``: the machine's float32 GEMM peak with NumPy (:mod:`benchmarks.gemm`).

Besides the registry's backends there are reference "backends" (:mod:`benchmarks.reference_loops`):
``torch-minimal``, ``tensorflow-minimal``, ``jax-minimal`` (minimal idiomatic loops) and ``sklearn``
(``MLPClassifier``, time-to-accuracy only).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import asdict, dataclass, field, replace

from backprop.registry import BACKENDS, available_backends

from .models import named_models, resolve_model

# Reference loops: name -> (mode label, framework backend it mirrors).
REFERENCES = {"torch-minimal": ("eager", "torch"), "tensorflow-minimal": ("function", "tensorflow"),
              "jax-minimal": ("jit", "jax"), "sklearn": ("sklearn", "")}


def all_cores() -> int:
    return len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class Cell:
    """One measurement, run in one fresh subprocess."""

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

    def to_dict(self) -> dict:
        return asdict(self)


def reference_available(name: str) -> bool:
    mirrored = REFERENCES[name][1]
    if mirrored:
        return mirrored in available_backends()
    return importlib.util.find_spec("sklearn") is not None


def labels(backends: list[str] | None, modes: list[str] | None) -> list[tuple[str, str]]:
    """``(backend, mode)`` pairs to run: registry modes of the chosen backends, then the reference loops.

    ``backends`` None means every installed backend plus every available reference. ``modes`` filters by
    ``backend:mode`` labels or plain mode names (``compile`` selects torch:compile).
    """
    chosen = backends or [*available_backends(), *(r for r in REFERENCES if reference_available(r))]
    pairs = []
    for name in chosen:
        if name in REFERENCES:
            pairs.append((name, REFERENCES[name][0]))
        elif name in BACKENDS:
            pairs.extend((name, mode) for mode in BACKENDS[name].modes)
        else:
            known = [*BACKENDS, *REFERENCES]
            raise ValueError(f"--backends: unknown backend {name!r}; known: {', '.join(known)}")
    if modes:
        wanted = set(modes)
        unknown = wanted - {f"{b}:{m}" for b, m in pairs} - {m for _, m in pairs}
        if unknown:
            raise ValueError(f"--modes: {', '.join(sorted(unknown))} match no selected backend; choose from "
                             f"{', '.join(f'{b}:{m}' for b, m in pairs)}")
        pairs = [(b, m) for b, m in pairs if f"{b}:{m}" in wanted or m in wanted]
    return pairs


@dataclass(frozen=True)
class SweepConfig:
    """The counts of one sweep (see :func:`plan`)."""

    models: tuple[str, ...]
    one_thread_models: tuple[str, ...]
    scaling_model: str
    batch_sizes: tuple[int, ...]
    widths: tuple[int, ...]
    scaling_skip: tuple[str, ...]
    tta_labels: tuple[str, ...] | None
    tta_epochs: int
    gemm_size: int
    repeats: int
    cell_timeout_s: float
    block_s: float = 0.02
    max_timed_s: float = 3.0
    rounds: int = 1
    budget_s: float = float("inf")


# Budget (2 cores, ≤ 10 min): a fresh process costs ~1 s (numpy) to ~3 s (torch, jax) and ~6 s (tensorflow) of
# imports, torch.compile ~10-15 s of compile per cell. So every label runs on every model at all cores; the 1-thread
# variant (mnist only) and the scaling curves (batch 1, 128, 1024 and widths 32, 256, 4096, the middle points
# being mnist's own cells) skip the two modes whose cells are dominated by start-up and compile (torch:compile,
# tensorflow:eager; both are in the model tables); the timed blocks stop after 2 s (≥ 3 blocks), which caps the
# wide model. The close contenders of the model tables then get
# up to two more process rounds (:mod:`benchmarks.rounds`), as many as fit in 560 s of sweep (the report and plots
# take ~10 s after it).
DEFAULT = SweepConfig(models=("xor", "classifier", "digits", "mnist", "wide"), one_thread_models=("mnist",),
                      scaling_model="mnist", batch_sizes=(1, 128, 1024), widths=(32, 256, 4096),
                      scaling_skip=("torch:compile", "tensorflow:eager"), tta_labels=None, tta_epochs=40,
                      gemm_size=2048, repeats=7, cell_timeout_s=180.0, max_timed_s=2.0, rounds=3, budget_s=560.0)
# Quick (≤ 90 s): one model, every label once, all cores; time to accuracy for numpy, jax and sklearn only.
QUICK = SweepConfig(models=("digits",), one_thread_models=(), scaling_model="mnist", batch_sizes=(), widths=(),
                    scaling_skip=(), tta_labels=("numpy:eager", "jax:jit", "sklearn:sklearn"), tta_epochs=30,
                    gemm_size=1024, repeats=3, cell_timeout_s=60.0, max_timed_s=0.5)


def width_model(width: int) -> str:
    """The width-scaling family: mnist's shape, 784 inputs, two hidden relu layers of ``width``, 10 classes."""
    return f"mlp:784-{width}-{width}-10:relu"


def plan(config: SweepConfig, pairs: list[tuple[str, str]], *, models: list[str] | None = None,
         batch_sizes: list[int] | None = None, threads: list[int] | None = None, dtype: str = "float32",
         repeats: int | None = None) -> list[Cell]:
    """Every cell of the sweep, de-duplicated by :attr:`Cell.key` (sweep tags of duplicates are merged).

    Sweeps: ``peak`` (GEMM for each thread count used), ``models`` (each model at its default batch, every label, at all
    cores, plus 1 thread for ``one_thread_models``), ``batch`` and ``width`` (scaling curves of the framework
    labels at all cores), ``tta`` (digits time to accuracy, all cores). Explicit ``threads`` apply to every model;
    explicit ``models``/``batch_sizes`` replace the model list and the batch sweep's sizes (both given: every model
    at every size) and drop the width and time-to-accuracy sweeps.
    """
    cores = all_cores()
    top = max(threads) if threads else cores
    repeats = repeats or config.repeats
    custom = models is not None or batch_sizes is not None
    framework = [(b, m) for b, m in pairs if b not in REFERENCES]
    loops = [(b, m) for b, m in pairs if b in REFERENCES and b != "sklearn"]
    scaling = [(b, m) for b, m in framework if f"{b}:{m}" not in config.scaling_skip or batch_sizes is not None]
    cells: list[Cell] = []

    def add(kind: str, backend: str, mode: str, model_name: str, batch: int, n_threads: int, sweep: str) -> None:
        spec = {} if kind == "gemm" else resolve_model(model_name).spec
        cells.append(Cell(kind, backend, mode, model_name, batch, n_threads, dtype, repeats, sweep, spec))

    for name in models or config.models:
        bench = resolve_model(name)
        counts = threads or ([1, cores] if name in config.one_thread_models else [cores])
        for batch in (batch_sizes if batch_sizes is not None and models is not None else [bench.batch_size]):
            for n in sorted(set(counts), reverse=True):
                for backend, mode in (framework + loops if n == top else framework if threads else scaling):
                    add("step", backend, mode, name, batch, n, "models")
    if batch_sizes is not None or not custom:
        for batch in batch_sizes or config.batch_sizes:
            for backend, mode in scaling:
                add("step", backend, mode, config.scaling_model, batch, top, "batch")
    if not custom:
        scaling_spec = resolve_model(config.scaling_model).spec
        for width in config.widths:
            name = width_model(width)
            name = config.scaling_model if resolve_model(name).spec == scaling_spec else name
            for backend, mode in scaling:
                add("step", backend, mode, name, named_models()[config.scaling_model].batch_size, top, "width")
        from backprop.presets import PRESETS

        for backend, mode in pairs:
            if config.tta_labels is None or f"{backend}:{mode}" in config.tta_labels:
                add("tta", backend, mode, "digits", PRESETS["digits"].batch_size, top, "tta")
    steps = cells
    cells = []
    for n in sorted({cell.threads for cell in steps}):
        add("gemm", "numpy", "sgemm", f"gemm-{config.gemm_size}", config.gemm_size, n, "peak")
    return merge(cells + steps)


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
