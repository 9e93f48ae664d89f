"""PNG plots of a results folder (matplotlib, Agg backend): scaling curves, time-to-accuracy bars, loss curves."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

MARKERS = ("o", "s", "^", "D")
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red")


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    return plt, fig, ax


def _save(plt, fig, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path.name


def scaling_plot(steps: pd.DataFrame, sweep: str, x: str, xlabel: str, path: Path) -> str | None:
    """Log-log step time against ``x`` for the rows of ``sweep``, one line per backend:mode, with each cell's 95 %
    interval as an error bar. The batch sweep has a curve per model: its lines are named ``model label``, one
    marker per model."""
    rows = steps[steps["sweep"].str.contains(sweep, regex=False)]
    rows = rows[rows["threads"] == rows["threads"].max()] if not rows.empty else rows
    models = list(dict.fromkeys(rows["model"])) if sweep == "batch" else []
    curves = [(key, group) for key, group in rows.sort_values(x).groupby(["model", "label"] if models else ["label"],
                                                                         sort=False) if group[x].nunique() >= 2]
    if not curves:
        return None
    plt, fig, ax = _figure()
    for key, group in curves:
        model, label = key if models else (None, key[0])
        median = group["step_median_s"] * 1e3
        errors = [median - group["step_ci_low_s"] * 1e3, group["step_ci_high_s"] * 1e3 - median]
        ax.errorbar(group[x], median, yerr=errors, capsize=3, label=f"{model} {label}" if models else label,
                    marker=MARKERS[models.index(model) % len(MARKERS)] if models else "o",
                    linestyle="--" if label.split(":")[0].endswith("minimal") else "-")
    shape = ", ".join(models) if models else "mlp:784-W-W-10"
    ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="train step, median (ms)",
           title=f"Step time vs {xlabel} ({shape}, {int(rows['threads'].max())} threads)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return _save(plt, fig, path)


def tta_plot(tta: pd.DataFrame, path: Path) -> str | None:
    """Seconds to 95 % test accuracy, one bar per task and label (log scale when the tasks differ tenfold)."""
    rows = tta.dropna(subset=["tta_s"]).sort_values(["model", "tta_s"], key=_first_seen(tta, "model"))
    if rows.empty:
        return None
    plt, fig, ax = _figure()
    names = [f"{model} {label}" for model, label in zip(rows["model"], rows["label"])]
    colors = [COLORS[list(dict.fromkeys(rows["model"])).index(model) % len(COLORS)] for model in rows["model"]]
    ax.barh(names, rows["tta_s"], color=colors)
    for y, (seconds, epochs) in enumerate(zip(rows["tta_s"], rows["tta_epochs"])):
        ax.text(seconds, y, f" {seconds:.2f} s, {int(epochs)} ep", va="center", fontsize=7)
    ax.invert_yaxis()
    ax.set(xlabel="seconds to 95 % test accuracy", title="Time to accuracy",
           xscale="log" if rows["tta_s"].max() > 10 * rows["tta_s"].min() else "linear")
    return _save(plt, fig, path)


def loss_plot(curves: pd.DataFrame, path: Path) -> str | None:
    if curves.empty:
        return None
    plt, fig, ax = _figure()
    for (model, label), group in curves.groupby(["model", "label"], sort=False):
        ax.plot(group["wall_s"], group["loss"], marker=".", label=f"{model} {label}")
    ax.set(xscale="log", yscale="log", xlabel="training wall-clock (s, steps only)", ylabel="mean epoch loss",
           title="Loss vs wall-clock (time-to-accuracy runs)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return _save(plt, fig, path)


def _first_seen(frame: pd.DataFrame, column: str):
    """A sort key that orders ``column`` by first appearance in ``frame`` (other columns sort as they are)."""
    order = {value: index for index, value in enumerate(dict.fromkeys(frame[column]))}
    return lambda values: values.map(order) if values.name == column else values


def write_plots(out: Path, steps: pd.DataFrame, tta: pd.DataFrame, curves: pd.DataFrame) -> list[str]:
    """Write every plot the data allows; return the file names written."""
    made = [scaling_plot(steps, "batch", "batch_size", "batch size", out / "step_time_vs_batch.png"),
            scaling_plot(steps, "width", "hidden_width", "hidden width", out / "step_time_vs_width.png"),
            tta_plot(tta, out / "time_to_accuracy.png"), loss_plot(curves, out / "loss_vs_wallclock.png")]
    return [name for name in made if name]
