"""The report's sections beside the step-time tables: library users' cost (the public step and the public fit),
compile times, final-loss agreement, time to accuracy with the scikit-learn comparison, and run health.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backprop.tolerances import TOLERANCES

from .frames import Folder, in_sweep, ok_steps
from .models import named_models
from .stats import Interval, Samples, cell_interval, ratio_interval
from .tables import label_order, markdown, plain_pivot
from .time_to_accuracy import TASKS


def public_step_ratios(folder: Folder) -> pd.DataFrame:
    """Per suite cell of the model tables (all cores): native and public step times and public ÷ native with its
    interval. The two run in rotating blocks in each process, so the ratio is paired within each round of blocks:
    the figure is the median over processes of each process's median round ratio (:func:`paired_ratio`)."""
    steps = in_sweep(ok_steps(folder), "models")
    steps = steps[(steps["threads"] == steps["threads"].max()) & steps["public_step_s"].notna()] \
        if "public_step_s" in steps else steps.iloc[0:0]
    rows = []
    for _, row in steps.iterrows():
        public, native = folder.samples(row, "public_block_s"), folder.samples(row)
        if public and native:
            rows.append({"model": row["model"], "label": row["label"], "native_s": row["step_median_s"],
                         "public_s": row["public_step_s"], "ratio": paired_ratio(public, native)})
    return pd.DataFrame(rows)


def paired_ratio(numerator: Samples, denominator: Samples) -> Interval:
    """numerator ÷ denominator block by block within each process (blocks timed in rounds, one of each per
    round, so a process has as many of one as of the other), with the two-level bootstrap interval of
    :func:`benchmarks.stats.cell_interval`."""
    return cell_interval({r: numerator[r] / denominator[r] for r in numerator if r in denominator})


def public_section(folder: Folder) -> list[str]:
    ratios = public_step_ratios(folder)
    if ratios.empty:
        return []
    table = pd.DataFrame({"model": ratios["model"], "label": ratios["label"],
                          "native step (µs)": ratios["native_s"] * 1e6,
                          "public train_step (µs)": ratios["public_s"] * 1e6,
                          "extra per call (µs)": (ratios["public_s"] - ratios["native_s"]) * 1e6,
                          "public ÷ native [95 %]": [r.text() for r in ratios["ratio"]]})
    return ["## Library users' cost: the public `model.train_step(X, y)`\n",
            "Beside the native step (`model.native_train_step` on tensors from `model.prepare_batch`, the loss read "
            "back once per block), the public step on NumPy arrays (X in the model dtype, integer labels), timed in "
            "the same processes: validation, one-hot labels, conversion to the framework's tensors, the model's lock "
            "and the loss read back on every call.\n", markdown(table, index=False, floatfmt=".4g"), ""]


def compile_section(models: pd.DataFrame) -> list[str]:
    top = models[models["threads"] == models["threads"].max()] if not models.empty else models
    return ["## Compile / first-call time (s), median over processes\n",
            markdown(plain_pivot(top, "compile_s", "model", lambda v: f"{v:.3g}")), ""]


def loss_agreement(steps: pd.DataFrame) -> pd.DataFrame:
    """Final loss of each cell vs numpy:eager's for the same model, batch, threads and dtype.

    Marked ✓ when ``|a − b| ≤ atol·max(1, |b|) + rtol·|b|``, the trajectory tolerance of DESIGN.md section 4. A
    named model whose spec has ``"dropout_rng": "native"`` is not compared: every framework draws its own masks.
    """
    reference = steps[steps["label"] == "numpy:eager"]
    ref = reference.set_index(["model", "batch_size", "threads", "dtype"])["final_loss"]
    own_masks = {name for name, bench in named_models().items() if bench.spec.get("dropout_rng") == "native"}

    def verdict(row) -> str:
        key = (row["model"], row["batch_size"], row["threads"], row["dtype"])
        if pd.notna(row["final_loss"]) and row["model"] in own_masks:
            return f"{float(row['final_loss']):.6g} (own masks)"
        if key not in ref.index or pd.isna(row["final_loss"]):
            return "–"
        a, b = float(row["final_loss"]), float(ref.loc[key])
        tol = TOLERANCES[("trajectory", row["dtype"])]
        diff = abs(a - b)
        ok = diff <= tol.atol * max(1.0, abs(b)) + tol.rtol * abs(b)
        return f"{a:.6g} ({'✓' if ok else '✗'} {diff / max(abs(b), 1e-300):.1e})"

    shown = steps.assign(agreement=steps.apply(verdict, axis=1))
    table = shown.pivot_table(index="model", columns="label", values="agreement", aggfunc="first")
    table = table[[label for label in label_order(steps) if label in table.columns]]
    return table.reindex(list(dict.fromkeys(steps["model"]))).fillna("–")


def agreement_section(models: pd.DataFrame) -> list[str]:
    top = models[models["threads"] == models["threads"].max()] if not models.empty else models
    return ["## Final-loss agreement with numpy:eager\n",
            "Loss after the fixed check run (identical init, identical seeded batch, same step count on every "
            "backend, independent of the timed steps); ✓ = within the float trajectory tolerance of DESIGN.md §4, "
            "with the relative difference. Keras' own Adam (the tensorflow minimal loops) uses ε-hat and drifts "
            "by design; a model with `\"dropout_rng\": \"native\"` draws each framework's own masks, so its "
            "losses are not compared (own masks).\n",
            markdown(loss_agreement(top)) if not top.empty else "_no rows_", ""]


SKLEARN_TASK = "digits"


def sklearn_ratio(folder: Folder, tta: pd.DataFrame) -> Interval | None:
    """scikit-learn's public epoch ÷ NumPy's public epoch on digits (both through their public fit), paired by
    round."""
    rows = {row["label"]: row for _, row in tta[tta["model"] == SKLEARN_TASK].iterrows()}
    if "sklearn:sklearn" not in rows or "numpy:eager" not in rows:
        return None
    sklearn = folder.samples(rows["sklearn:sklearn"], "public_block_s")
    numpy = folder.samples(rows["numpy:eager"], "public_block_s")
    return ratio_interval(sklearn, numpy) if sklearn and numpy else None


def task_description(name: str) -> str:
    """The report's description of a time-to-accuracy task (its name when it is not a task of this version)."""
    task = TASKS.get(name)
    return task.description if task is not None else name


def tta_section(folder: Folder) -> list[str]:
    results = folder.results
    tta = results[(results["kind"] == "tta") & (results["status"] == "ok")]
    if tta.empty:
        return []
    columns = {"label": "label", "tta_s": "seconds to 95 %", "tta_epochs": "epochs", "epoch_s": "native epoch (s)",
               "public_epoch_s": "public fit epoch (s)", "compile_s": "first step (s)",
               "test_accuracy": "final test acc.", "final_loss": "last epoch loss"}
    lines = ["## Time to 95 % test accuracy\n",
             "Same initial weights and batch order on every suite backend and minimal loop; sklearn uses its own init "
             "and shuffling. Medians over processes. The native epoch runs prepared batches (converted off the "
             "clock); on digits, the public fit epoch is one `model.fit(X, y, epochs=1, batch_size=32)` call, or "
             "one `MLPClassifier.partial_fit(X, y)` for scikit-learn.\n"]
    for model, rows in tta.groupby("model", sort=False):
        table = rows[[c for c in columns if c in rows]].sort_values("tta_s", na_position="last").dropna(
            axis=1, how="all").rename(columns=columns)
        lines += [f"### {model}: {task_description(model)}\n", markdown(table, index=False, floatfmt=".4g"), ""]
    ratio = sklearn_ratio(folder, tta)
    if ratio is not None:
        lines += [f"scikit-learn ÷ NumPy per digits epoch, both through their public fit (validation, shuffling and "
                  f"batching on the clock for both; backprop's fit also computes the epoch's training accuracy): "
                  f"**{ratio.text('.1f')}**.\n"]
    return lines


OUTLIER_FACTOR = 1.5


def outlier_processes(folder: Folder) -> pd.DataFrame:
    """Processes whose median is more than :data:`OUTLIER_FACTOR` times away from their cell's figure (a process
    that ran while the shared host was busy); the median over processes already discounts one of them."""
    rows = []
    for _, cell in folder.results[folder.results["status"] == "ok"].iterrows():
        for round_number, blocks in folder.samples(cell).items():
            factor = float(np.median(blocks)) / (cell["epoch_s"] if cell["kind"] == "tta" else cell["step_median_s"])
            if not 1 / OUTLIER_FACTOR <= factor <= OUTLIER_FACTOR:
                rows.append({"kind": cell["kind"], "label": cell["label"], "model": cell["model"],
                             "threads": cell["threads"], "round": round_number, "× cell figure": factor})
    return pd.DataFrame(rows)


def health_section(folder: Folder) -> list[str]:
    results = folder.results
    ok = results[results["status"] == "ok"]
    unverified = ok[ok["threads_verified"].astype(str) != "True"]
    noisy = ok[ok["noisy"].astype(str) == "True"]
    failed = results[results["error"] != ""]
    rounds = pd.to_numeric(ok["rounds"], errors="coerce")
    short = ok[rounds < folder.rounds]
    cols = ["kind", "label", "model", "batch_size", "threads"]
    lines = ["## Processes, thread verification, noise, failures\n",
             f"{len(ok) - len(short)} of {len(ok)} ok cells have all {folder.rounds} processes.\n"]
    if not short.empty:
        lines += ["Cells with fewer ok processes (their intervals are wider):\n",
                  markdown(short[cols + ["rounds"]], index=False), ""]
    lines += [f"{len(ok) - len(unverified)} of {len(ok)} ok cells verified their thread setting in every process "
              "(CPU affinity = threads, CPU time ÷ wall time ≤ threads, framework-reported count = threads).\n"]
    if not unverified.empty:
        lines += ["Not verified:\n", markdown(unverified[cols + ["cpu_per_wall", "affinity", "framework_threads"]],
                                              index=False), ""]
    outliers = outlier_processes(folder)
    lines += [f"Outlier processes (median beyond {OUTLIER_FACTOR}× or 1/{OUTLIER_FACTOR} of the cell's figure): "
              f"{len(outliers)}.\n"]
    if not outliers.empty:
        lines += [markdown(outliers, index=False, floatfmt=".3g"), ""]
    lines += [f"Noisy cells (a process's block IQR/median > 10 %): {len(noisy)}.\n"]
    if not noisy.empty:
        lines += [markdown(noisy[cols + ["step_median_s", "step_iqr_s"]], index=False, floatfmt=".3g"), ""]
    lines += [f"Cells with failed processes: {len(failed)}.\n"]
    if not failed.empty:
        lines += [markdown(failed[cols + ["error"]], index=False), ""]
    return lines
