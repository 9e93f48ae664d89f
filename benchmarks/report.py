"""``benchmark.md`` and ``summary.md`` from a results folder, built with pandas (``DataFrame.to_markdown``).

Sections: provenance, command and machine, the method and the number of processes per cell; the summary in wins,
ties and losses (:mod:`benchmarks.summary`); step time per model × label with each ratio's 95 % interval and each
row's verdict (:mod:`benchmarks.tables`); throughput as % of the GEMM peak; the public step; the suite's overhead
per mode against the same mode's minimal loop (:mod:`benchmarks.overhead`); compile time; final-loss agreement; time
to accuracy with the scikit-learn comparison; scaling tables; run health; plots.
"""

from __future__ import annotations

import os
from pathlib import Path

from .environment import is_committed
from .frames import Folder, in_sweep, load, ok_steps, scaling_curves
from .overhead import OVERHEAD_TARGET, overhead_ratios, overhead_table, per_mode, unchecked_modes
from .plots import write_plots
from .sections import agreement_section, compile_section, health_section, public_section, tta_section
from .summary import provenance_line, summary_lines
from .tables import markdown, plain_pivot, ranked_table


def provenance(env: dict) -> list[str]:
    """The provenance lines: a warning first, in bold, for a run that is not from a clean, unchanged tree, and a
    note for an interrupted one; a committed run's provenance bullet."""
    start, end = env.get("git", {}), env.get("git_at_end", {})
    committed = is_committed(env)
    warnings = [] if committed else [
        f"> **⚠ Not a committed run.** This is {provenance_line(env)}. These numbers describe that commit plus the "
        "changes listed in `environment.json` (`git.changed`), not the commit alone."]
    if end and (end.get("commit") != start.get("commit") or end.get("changed") != start.get("changed")):
        warnings.append(f"> The tree also changed during the run (at the end: git {str(end.get('commit'))[:10]}, "
                        f"{len(end.get('changed', []))} changed path(s)).")
    if env.get("interrupted"):
        warnings.append("> The run was interrupted: some cells are missing or have fewer processes.")
    return [*warnings, *([""] if warnings else []),
            *([f"- Provenance: {provenance_line(env)}."] if committed else [])]


def header(folder: Folder) -> list[str]:
    env, results = folder.env, folder.results
    gemm = results[(results["kind"] == "gemm") & (results["status"] == "ok")]
    peak = ", ".join(f"{g:.1f} GFLOP/s at {t} thread(s)" for t, g in zip(gemm["threads"], gemm["gflops"]))
    packages = ", ".join(f"{k} {v}" for k, v in env.get("packages", {}).items())
    settings = env.get("settings", {})
    rounds = folder.rounds
    start = {"fork": "each forked from a server that had imported its framework and run nothing",
             "spawn": "each a new interpreter"}.get(settings.get("process_start", "spawn"))
    return ["# Backend benchmark\n", *provenance(env),
            f"- Command: `{env.get('command', '?')}` ({settings.get('sweep', '?')} sweep, "
            f"{settings.get('cells', '?')} cells)", f"- When: {env.get('timestamp', '?')}, {env.get('wall_s', '?')} s",
            f"- CPU: {env.get('cpu_model', '?')}, {env.get('usable_cores', '?')} usable cores",
            f"- Packages: {packages}",
            f"- float32 GEMM peak (NumPy {int(gemm['batch_size'].iloc[0]) if not gemm.empty else '?'}² matmul): "
            f"{peak or 'not measured'}",
            f"- Method: every cell ran in {rounds} fresh process(es) ({start}), interleaved round by round (every "
            "cell once per round), threads fixed before import and verified; a process's step time is the median of "
            "its blocks of k steps (block ≥ 20 ms, garbage collection off) after a timed first call and ≥ 2 warm-up "
            "calls; a cell's time is the median of its process medians (all of them in `results.csv`, "
            "`round_medians_s`; every block in `processes.csv`). Intervals: 95 %, bootstrap over processes and "
            "their blocks, paired by round. GFLOP/s = GEMM FLOPs per step ÷ step time. See DESIGN.md §5 and "
            "`environment.json`.", ""]


def step_sections(folder: Folder) -> tuple[list[str], str]:
    """The model tables per thread count and the scaling tables; also the console summary."""
    steps = ok_steps(folder)
    models = in_sweep(steps, "models")
    sections, console = [], ""
    for threads, rows in models.groupby("threads"):
        table = ranked_table(folder, rows, "model")
        if threads == models["threads"].max():
            console = f"Step time, ms (ratio to fastest [95 % interval]), {threads} threads:\n" + table.to_markdown()
        sections += [f"## Train-step time, {threads} thread(s): median ms per step (ratio to the row's fastest "
                     "[95 % interval])\n",
                     "Bold: a win (every other suite label's interval above 1×). Minimal loops are shown against "
                     "the fastest suite label and never ranked.\n", markdown(table), "",
                     f"### Throughput, {threads} thread(s): % of the {threads}-thread GEMM peak\n",
                     markdown(plain_pivot(rows, "pct_of_peak", "model",
                                          lambda v: f"{v:.3g} %" if v < 10 else f"{v:.0f} %")), ""]
    sections += public_section(folder)
    ratios = overhead_ratios(folder)
    sections += [f"## Suite overhead vs the minimal loop of the same mode (target ≤ {OVERHEAD_TARGET}× at the upper "
                 "end of the 95 % interval)\n",
                 "Like for like: the same execution mode and the same optimizer implementation where the framework "
                 "has a choice (`benchmarks/reference_loops.py`); the TensorFlow loops use Keras' optimizers, since "
                 "the suite's are TF ops by design (DESIGN.md §2). Paired in process: each of the loop's processes "
                 "also builds the suite model of that mode and times the two in alternating blocks, so the ratio "
                 "sees one stretch of machine time; the ratio of the two cells' own figures, from different "
                 "processes, is beside it. Unresolved: the interval straddles the target.\n",
                 markdown(overhead_table(ratios), index=False, floatfmt=".4g"), "",
                 "Per mode:\n", markdown(per_mode(ratios), index=False), ""]
    unchecked = unchecked_modes(folder, ratios)
    if unchecked:
        sections += [f"Not checked in this run (no minimal loop of their mode was timed): {', '.join(unchecked)}; "
                     "`--sweep full` times every mode's loop.\n"]
    sections += compile_section(models) + agreement_section(models)
    for curve, index, rows in scaling_curves(steps):
        sections += [f"## Scaling with {curve}: median ms per step (ratio to the fastest [95 % interval])\n",
                     markdown(ranked_table(folder, rows.sort_values(index), index)), ""]
    return sections, console


def write_atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_report(out: Path) -> str:
    """Write ``benchmark.md``, ``summary.md`` and the plots into ``out``; return the console summary."""
    folder = load(out)
    results = folder.results
    ok = results[results["status"] == "ok"]
    summary = summary_lines(folder)
    sections, console = step_sections(folder)
    plots = write_plots(out, ok[ok["kind"] == "step"], ok[ok["kind"] == "tta"], folder.curves)
    lines = [*header(folder), "## Summary\n", *summary[1:], *sections, *tta_section(folder), *health_section(folder),
             "## Plots\n", *[f"![{name}]({name})" for name in plots], ""]
    write_atomic_text(out / "benchmark.md", "\n".join(lines))
    write_atomic_text(out / "summary.md", "\n".join(summary))
    return console or "(no step cells finished)"
