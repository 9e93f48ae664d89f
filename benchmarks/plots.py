"""PNG plots of a results folder (matplotlib, Agg backend): scaling curves, time-to-accuracy bars, loss curves."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


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
    interval as an error bar."""
    rows = steps[steps["sweep"].str.contains(sweep, regex=False)]
    rows = rows[rows["threads"] == rows["threads"].max()] if not rows.empty else rows
    if rows[x].nunique() < 2:
        return None
    plt, fig, ax = _figure()
    for label, group in rows.sort_values(x).groupby("label"):
        median = group["step_median_s"] * 1e3
        errors = [median - group["step_ci_low_s"] * 1e3, group["step_ci_high_s"] * 1e3 - median]
        ax.errorbar(group[x], median, yerr=errors, marker="o", capsize=3, label=label,
                    linestyle="--" if label.split(":")[0].endswith("minimal") else "-")
    ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="train step, median (ms)",
           title=f"Step time vs {xlabel} ({rows['model'].iloc[0] if sweep == 'batch' else 'mlp:256-W-W-10'}, "
                 f"{int(rows['threads'].max())} threads)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return _save(plt, fig, path)


def tta_plot(tta: pd.DataFrame, path: Path) -> str | None:
    rows = tta.dropna(subset=["tta_s"]).sort_values("tta_s")
    if rows.empty:
        return None
    plt, fig, ax = _figure()
    ax.barh(rows["label"], rows["tta_s"], color="tab:blue")
    for y, (seconds, epochs) in enumerate(zip(rows["tta_s"], rows["tta_epochs"])):
        ax.text(seconds, y, f" {seconds:.2f} s, {int(epochs)} ep", va="center", fontsize=7)
    ax.invert_yaxis()
    ax.set(xlabel="seconds to 95 % test accuracy (digits)", title="Time to accuracy")
    return _save(plt, fig, path)


def loss_plot(curves: pd.DataFrame, path: Path) -> str | None:
    if curves.empty:
        return None
    plt, fig, ax = _figure()
    for label, group in curves.groupby("label"):
        ax.plot(group["wall_s"], group["loss"], marker=".", label=label)
    ax.set(xscale="log", yscale="log", xlabel="training wall-clock (s, steps only)", ylabel="mean epoch loss",
           title="Loss vs wall-clock (digits)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return _save(plt, fig, path)


def write_plots(out: Path, steps: pd.DataFrame, tta: pd.DataFrame, curves: pd.DataFrame) -> list[str]:
    """Write every plot the data allows; return the file names written."""
    made = [scaling_plot(steps, "batch", "batch_size", "batch size", out / "step_time_vs_batch.png"),
            scaling_plot(steps, "width", "hidden_width", "hidden width", out / "step_time_vs_width.png"),
            tta_plot(tta, out / "time_to_accuracy.png"), loss_plot(curves, out / "loss_vs_wallclock.png")]
    return [name for name in made if name]
