"""``benchmark.md`` from a results folder, built with pandas (``DataFrame.to_markdown``).

Sections: the command and machine, the GEMM peak, step time per model × backend:mode (fastest in bold, every cell
with its ratio to the fastest), throughput as % of the GEMM peak, compile/warm-up time, final-loss agreement with
numpy, the suite's overhead against the minimal loops, time to accuracy, scaling tables, thread verification, noisy
and failed cells, and the plots.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from backprop.tolerances import TOLERANCES

from .plots import write_plots
from .rounds import CONTENDER_RATIO, OVERHEAD_TARGET

MINIMAL = {"torch": "torch-minimal", "tensorflow": "tensorflow-minimal", "jax": "jax-minimal"}


def load(out: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    results = pd.read_csv(out / "results.csv", keep_default_na=True)
    curves_path = out / "curves.csv"
    curves = pd.read_csv(curves_path) if curves_path.exists() else pd.DataFrame()
    env_path = out / "environment.json"
    env = json.loads(env_path.read_text()) if env_path.exists() else {}
    results["sweep"] = results["sweep"].fillna("").astype(str)
    results["error"] = results["error"].fillna("").astype(str)
    return results, curves, env


def _order(frame: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    return frame[[label for label in labels if label in frame.columns]]


def ratio_pivot(rows: pd.DataFrame, value: str, index: str, unit: float, fmt: str, lower_is_better: bool = True
                ) -> pd.DataFrame:
    """Pivot ``index`` × label of ``value``; each cell "v (r×)" with r the ratio to the row's best, best in bold."""
    table = rows.pivot_table(index=index, columns="label", values=value, aggfunc="first")
    table = _order(table, list(dict.fromkeys(rows["label"])))
    best = table.min(axis=1) if lower_is_better else table.max(axis=1)

    def cell(v: float, b: float) -> str:
        if pd.isna(v):
            return "–"
        ratio = v / b if lower_is_better else b / v
        text = f"{v * unit:{fmt}} ({ratio:.2f}×)"
        return f"**{text}**" if v == b else text

    formatted = pd.DataFrame({col: [cell(v, b) for v, b in zip(table[col], best)] for col in table.columns},
                             index=table.index)
    return formatted.reindex(list(dict.fromkeys(rows[index])))


def plain_pivot(rows: pd.DataFrame, value: str, index: str, fmt) -> pd.DataFrame:
    table = rows.pivot_table(index=index, columns="label", values=value, aggfunc="first")
    table = _order(table, list(dict.fromkeys(rows["label"]))).reindex(list(dict.fromkeys(rows[index])))
    return table.apply(lambda column: column.map(lambda v: "–" if pd.isna(v) else fmt(v)))


def loss_agreement(steps: pd.DataFrame) -> pd.DataFrame:
    """Final loss of each cell vs numpy's for the same model, batch, threads and dtype.

    Marked ✓ when ``|a − b| ≤ atol·max(1, |b|) + rtol·|b|`` with the trajectory tolerance of DESIGN.md section 4.
    """
    ref = steps[steps["backend"] == "numpy"].set_index(["model", "batch_size", "threads", "dtype"])["final_loss"]

    def verdict(row) -> str:
        key = (row["model"], row["batch_size"], row["threads"], row["dtype"])
        if key not in ref.index or pd.isna(row["final_loss"]):
            return "–"
        a, b = float(row["final_loss"]), float(ref.loc[key])
        tol = TOLERANCES[("trajectory", row["dtype"])]
        diff = abs(a - b)
        ok = diff <= tol.atol * max(1.0, abs(b)) + tol.rtol * abs(b)
        return f"{a:.6g} ({'✓' if ok else '✗'} {diff / max(abs(b), 1e-300):.1e})"

    shown = steps.assign(agreement=steps.apply(verdict, axis=1))
    return shown.pivot_table(index="model", columns="label", values="agreement", aggfunc="first").pipe(
        _order, list(dict.fromkeys(steps["label"]))).reindex(list(dict.fromkeys(steps["model"]))).fillna("–")


def overhead_ratios(steps: pd.DataFrame) -> pd.DataFrame:
    """Each framework's fastest suite mode against its minimal loop, per model and thread count: the seconds of
    each, their ``ratio`` (target ≤ :data:`OVERHEAD_TARGET`) and the fewer of the two rows' process ``rounds``."""
    rows = []
    for (model, threads), group in steps.groupby(["model", "threads"], sort=False):
        for framework, minimal in MINIMAL.items():
            own = group[group["backend"] == framework].dropna(subset=["step_median_s"])
            ref = group[group["backend"] == minimal].dropna(subset=["step_median_s"])
            if own.empty or ref.empty:
                continue
            best, loop = own.loc[own["step_median_s"].idxmin()], ref.iloc[0]
            rounds = pd.to_numeric(pd.Series([best["rounds"], loop["rounds"]]), errors="coerce").fillna(1)
            rows.append({"model": model, "threads": threads, "framework": framework, "mode": best["mode"],
                         "suite_s": best["step_median_s"], "minimal_s": loop["step_median_s"],
                         "ratio": best["step_median_s"] / loop["step_median_s"], "rounds": int(rounds.min())})
    return pd.DataFrame(rows)


def overhead(steps: pd.DataFrame) -> pd.DataFrame:
    """:func:`overhead_ratios` as the report's table, each ratio marked against the target."""
    ratios = overhead_ratios(steps)
    if ratios.empty:
        return ratios
    return pd.DataFrame({"model": ratios["model"], "threads": ratios["threads"], "framework": ratios["framework"],
                         "best suite mode": ratios["mode"], "suite (ms)": ratios["suite_s"] * 1e3,
                         "minimal (ms)": ratios["minimal_s"] * 1e3,
                         "ratio": [f"{ratio:.2f}× {'✓' if ratio <= OVERHEAD_TARGET else '✗'}"
                                   for ratio in ratios["ratio"]]})


def _md(frame: pd.DataFrame, **kwargs) -> str:
    return frame.to_markdown(**kwargs) if not frame.empty else "_no rows_"


def step_sections(steps: pd.DataFrame) -> tuple[list[str], str]:
    """The model-sweep tables, per thread count; also returns the step-time pivot for the console summary."""
    sections, summary = [], ""
    models = steps[steps["sweep"].str.contains("models", regex=False)]
    for threads, rows in models.groupby("threads"):
        pivot = ratio_pivot(rows, "step_median_s", "model", 1e3, ".3g")
        if threads == models["threads"].max():
            summary = f"Step time, ms (ratio to fastest), {threads} threads:\n" + pivot.to_markdown()
        sections += [f"## Train-step time, {threads} thread(s): median ms per step (ratio to the fastest)\n",
                     _md(pivot), "",
                     f"### Throughput, {threads} thread(s): % of the {threads}-thread GEMM peak\n",
                     _md(plain_pivot(rows, "pct_of_peak", "model", lambda v: f"{v:.3g} %" if v < 10 else f"{v:.0f} %")), ""]
    top = models[models["threads"] == models["threads"].max()] if not models.empty else models
    sections += ["## Compile / first-call time (s) and warm-up (s for the next check steps)\n",
                 _md(plain_pivot(top, "compile_s", "model", lambda v: f"{v:.3g}")), "",
                 "## Final-loss agreement with numpy\n",
                 "Loss after the fixed check run (identical init, identical seeded batch, same step count on every "
                 "backend, independent of the timed steps); ✓ = within the float trajectory tolerance of DESIGN.md "
                 "§4, with the relative difference. Keras' native Adam (tensorflow-minimal) uses ε-hat and drifts "
                 "by design.\n", _md(loss_agreement(top)), "",
                 f"## Suite overhead vs minimal idiomatic loops (target ≤ {OVERHEAD_TARGET}×)\n",
                 _md(overhead(models), index=False, floatfmt=".4g"), ""]
    for sweep, index in (("batch", "batch_size"), ("width", "hidden_width")):
        rows = steps[steps["sweep"].str.contains(sweep, regex=False)].sort_values(index)
        if not rows.empty:
            sections += [f"## Scaling with {index.replace('_', ' ')}: median ms per step (ratio to the fastest)\n",
                         _md(ratio_pivot(rows, "step_median_s", index, 1e3, ".3g")), ""]
    return sections, summary


def tta_section(tta: pd.DataFrame) -> list[str]:
    if tta.empty:
        return []
    table = tta[["label", "tta_s", "tta_epochs", "epoch_s", "compile_s", "test_accuracy", "final_loss"]].copy()
    table = table.sort_values("tta_s", na_position="last").rename(columns={
        "tta_s": "seconds to 95 %", "tta_epochs": "epochs", "epoch_s": "s per epoch", "compile_s": "first step (s)",
        "test_accuracy": "final test acc.", "final_loss": "last epoch loss"})
    return ["## Time to 95 % test accuracy (digits 64-128-10, batch 32, Adam)\n",
            "Same initial weights and batch order on every suite backend and minimal loop; sklearn uses its own init "
            "and shuffling (its per-epoch time is the reference).\n", _md(table, index=False, floatfmt=".4g"), ""]


def health_section(results: pd.DataFrame) -> list[str]:
    ok = results[results["status"] == "ok"]
    unverified = ok[ok["threads_verified"].astype(str) != "True"]
    noisy = ok[ok["noisy"].astype(str) == "True"]
    failed = results[results["status"] != "ok"]
    cols = ["kind", "label", "model", "batch_size", "threads"]
    lines = ["## Thread verification, noise, failures\n",
             f"{len(ok) - len(unverified)} of {len(ok)} ok cells verified their thread setting (CPU affinity = "
             "threads, CPU time ÷ wall time ≤ threads, framework-reported count = threads).\n"]
    if not unverified.empty:
        lines += ["Not verified:\n", _md(unverified[cols + ["cpu_per_wall", "affinity", "framework_threads"]],
                                         index=False), ""]
    lines += [f"Noisy cells (IQR/median > 10 %): {len(noisy)}.\n"]
    if not noisy.empty:
        lines += [_md(noisy[cols + ["step_median_s", "step_iqr_s"]], index=False, floatfmt=".3g"), ""]
    lines += [f"Failed cells: {len(failed)}.\n"]
    if not failed.empty:
        lines += [_md(failed[cols + ["error"]], index=False), ""]
    return lines


def header(env: dict, results: pd.DataFrame) -> list[str]:
    gemm = results[(results["kind"] == "gemm") & (results["status"] == "ok")]
    peak = ", ".join(f"{g:.1f} GFLOP/s at {t} thread(s)" for t, g in zip(gemm["threads"], gemm["gflops"]))
    packages = ", ".join(f"{k} {v}" for k, v in env.get("packages", {}).items())
    return ["# Backend benchmark\n",
            f"- Command: `{env.get('command', '?')}`", f"- When: {env.get('timestamp', '?')}; git "
            f"{env.get('git_commit', '?')}", f"- CPU: {env.get('cpu_model', '?')}, {env.get('usable_cores', '?')} "
            f"usable cores", f"- Packages: {packages}",
            f"- float32 GEMM peak (NumPy {gemm['batch_size'].iloc[0] if not gemm.empty else '?'}² matmul): "
            f"{peak or 'not measured'}",
            "- Method: one fresh subprocess per cell, threads fixed before import and verified; step time = median "
            "of blocks of k steps (block ≥ 20 ms) after a timed first call and ≥ 2 warm-up calls; GFLOP/s = "
            "6·B·Σ fan_in·units per step. See DESIGN.md §5 and `environment.json`.",
            f"- Rounds: {_rounds_line(results)}", ""]


def _rounds_line(results: pd.DataFrame) -> str:
    rounds = pd.to_numeric(results.get("rounds"), errors="coerce") if "rounds" in results else pd.Series(dtype=float)
    repeated = results[rounds > 1]
    if repeated.empty:
        return "every cell ran once."
    counts = sorted({int(count) for count in rounds[rounds > 1]})
    processes = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]} (the same within a model row)"
    rows = repeated.groupby(["model", "batch_size", "threads"]).ngroups
    return (f"{len(repeated)} close contenders of the model tables (within {CONTENDER_RATIO}× of their row's "
            "fastest, plus their framework's best mode and minimal loop, and any best mode more than "
            f"{OVERHEAD_TARGET}× its minimal loop) in {rows} model rows ran in {processes} fresh processes each, "
            "row by row as the time budget allowed; their step time is the best round's median, every round's "
            "median is in `results.csv` (`round_medians_s`, one entry for a row that got no extra round). "
            "See `benchmarks/rounds.py`.")


def write_report(out: Path) -> str:
    """Write ``benchmark.md`` and the plots into ``out``; return the console summary."""
    results, curves, env = load(out)
    ok = results[results["status"] == "ok"]
    steps, tta = ok[ok["kind"] == "step"], ok[ok["kind"] == "tta"]
    sections, summary = step_sections(steps)
    plots = write_plots(out, steps, tta, curves)
    lines = [*header(env, results), *sections, *tta_section(tta), *health_section(results),
             "## Plots\n", *[f"![{name}]({name})" for name in plots], ""]
    text = "\n".join(lines)
    tmp = out / ".benchmark.md.tmp"
    tmp.write_text(text)
    os.replace(tmp, out / "benchmark.md")
    return summary or "(no step cells finished)"

