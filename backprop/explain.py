"""A glass-box trace of training steps: every value of forward, loss, backward and update, layer by layer, with
the formula beside it (``python -m backprop explain``).

The trace is computed by the textbook NumPy mode (``mode="reference"``), whose layers keep what the chain rule
uses: a layer's input a, its pre-activation z, its output, the error signal δ = dL/dz, and its parameter gradients.
Another backend can take the same steps beside it, its loss, gradients and new parameters compared with the hand-
computed ones under DESIGN.md's tolerances (``--backend``, ``--compare all``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .registry import build
from .spec import NetworkSpec, as_spec
from .tolerances import TOLERANCES, compare

# Formulas, by layer type: forward, backward.
LAYER_FORMULAS = {
    "dense": ("z = a·W + b;  out = f(z)", "δ = dL/dz = f'(z) ⊙ dL/dout;  dW = aᵀ·δ;  db = Σ_n δ;  dL/da = δ·Wᵀ"),
    "conv2d": ("z[p,q] = Σ_{i,j,c} pad(a)[p·s+i, q·s+j, c]·W[i,j,c] + b;  out = f(z)",
               "δ = f'(z) ⊙ dL/dout;  dW[i,j] = Σ patch·δ;  db = Σ δ;  dL/da: each window offset sends δ·W[i,j]ᵀ back"),
    "max_pool2d": ("out = max over each window", "dL/da: each window's gradient to its first maximum"),
    "avg_pool2d": ("out = mean of each window's real elements", "dL/da: gradient / count to each real element"),
    "flatten": ("out = a reshaped to (n, H·W·C), (h, w, c) order", "dL/da = dL/dout reshaped back"),
    "dropout": ("out = a ⊙ m (m = 0 or 1/(1 − rate))", "dL/da = dL/dout ⊙ m"),
    "batch_norm": ("x̂ = (a − μ)/√(σ² + eps);  out = γ·x̂ + β",
                   "dγ = Σ dL/dout·x̂;  dβ = Σ dL/dout;  dL/da = γ/√(σ²+eps)·(dL/dout − dβ/m − x̂·dγ/m)"),
}
LOSS_FORMULAS = {"mse": "L = mean((a − y)²);  dL/da = 2(a − y)/(N·k)",
                 "cross_entropy": "L = mean_n(lse(z_n) − Σ_c y_nc·z_nc);  dL/dz = (softmax(z) − y)/N",
                 "binary_cross_entropy": "L = mean(max(z,0) − z·y + log(1+e^−|z|));  dL/dz = (σ(z) − y)/(N·k)"}
# The formula of a summed loss: torch's reduction="sum", and mse's ½·Σ (the seed tutorials' loss).
SUMMED_LOSS_FORMULAS = {
    ("mse", "sum"): "L = Σ (a − y)²;  dL/da = 2(a − y)",
    ("mse", "half_sum"): "L = ½·Σ (a − y)²;  dL/da = a − y",
    ("cross_entropy", "sum"): "L = Σ_n (lse(z_n) − Σ_c y_nc·z_nc);  dL/dz = softmax(z) − y",
    ("binary_cross_entropy", "sum"): "L = Σ (max(z,0) − z·y + log(1+e^−|z|));  dL/dz = σ(z) − y"}
UPDATE_FORMULAS = {"sgd": "p ← p − lr·g", "momentum": "v ← μ·v + g;  p ← p − lr·v",
                   "adam": "m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  p ← p − lr·m̂/(√v̂ + ε)",
                   "adamw": "p ← p·(1 − lr·wd);  then the Adam step",
                   "rmsprop": "v ← ρ·v + (1−ρ)·g²;  p ← p − lr·g/(√v + ε)",
                   "adagrad": "s ← s + g²;  p ← p − lr·g/(√s + ε)"}


@dataclass
class Entry:
    """One line of the trace: a name, its formula, and its value."""

    name: str
    formula: str
    value: Any


@dataclass
class StepTrace:
    step: int
    forward: list[list[Entry]] = field(default_factory=list)
    loss: list[Entry] = field(default_factory=list)
    backward: list[list[Entry]] = field(default_factory=list)
    update: list[Entry] = field(default_factory=list)
    comparisons: list[dict] = field(default_factory=list)


def trace(spec: NetworkSpec | dict, X: Any, y: Any, steps: int = 1, backend: str = "numpy", seed: int = 0,
          dtype: str = "float64") -> list[StepTrace]:
    """``steps`` training steps on (X, y), traced by the textbook NumPy mode, with ``backend`` taking the same
    steps beside it (compared at every step)."""
    spec = as_spec(spec)
    textbook = build(spec, "numpy", dtype, seed, mode="reference")
    other = build(spec, backend, dtype, seed)
    Xn, yn = textbook.prepare_batch(X, y)
    traces = []
    for step in range(1, steps + 1):
        record = StepTrace(step)
        masks = [_mask_state(model) for model in (textbook, other)]
        compared = other.loss_and_grads(X, y)
        loss, grads = textbook.native_loss_and_grads(Xn, yn)
        _record_forward(record, textbook, Xn)
        formula = SUMMED_LOSS_FORMULAS.get((spec.loss, spec.loss_reduction), LOSS_FORMULAS[spec.loss])
        record.loss = [Entry("L", formula, loss)]
        _record_backward(record, textbook, grads)
        before = textbook.get_params()
        for model, state in zip((textbook, other), masks):
            if state is not None:
                model.mask_generator.bit_generator.state = state
            model.train_step(X, y)
        _record_update(record, spec, before, textbook.get_params(), grads)
        record.comparisons = _compare(other.backend + ":" + other.mode, (loss, grads), compared,
                                      textbook.get_params(), other.get_params(), dtype)
        traces.append(record)
    return traces


def _mask_state(model) -> dict | None:
    """Where the model's dropout masks stand: the step replays the masks its traced gradients used."""
    return None if model.mask_generator is None else model.mask_generator.bit_generator.state


def _record_forward(record: StepTrace, model, X) -> None:
    record.forward.append([Entry("X", "a_0, the input batch", X)])
    for index, (layer, spec) in enumerate(zip(model.layers, model.spec.layers)):
        formula = LAYER_FORMULAS[spec.type][0]
        entries = [Entry(f"layers[{index}] {spec.type}" + (f" ({spec.activation})" if hasattr(spec, "activation")
                                                         else ""), formula, None)]
        if hasattr(layer, "z"):
            entries += [Entry("z", "pre-activation", layer.z), Entry("out", f"{spec.activation}(z)", layer.out)]
        record.forward.append(entries)


def _record_backward(record: StepTrace, model, grads) -> None:
    for index in range(len(model.layers) - 1, -1, -1):
        layer, spec = model.layers[index], model.spec.layers[index]
        entries = [Entry(f"layers[{index}] {spec.type}", LAYER_FORMULAS[spec.type][1], None)]
        if hasattr(layer, "dz"):
            entries.append(Entry("δ = dL/dz", "error signal", layer.dz))
        entries += [Entry(f"d{name}", f"dL/d{name}", value) for name, value in grads[index].items()]
        record.backward.append(entries)


def _record_update(record: StepTrace, spec: NetworkSpec, before, after, grads) -> None:
    record.update.append(Entry("rule", UPDATE_FORMULAS[spec.optimizer.name], None))
    for index, (old, new) in enumerate(zip(before, after)):
        for name in grads[index]:
            record.update.append(Entry(f"layers[{index}].{name}", f"Δ = {np.max(np.abs(new[name] - old[name])):.3g} "
                                       "max|new − old|", new[name]))


def _compare(label: str, textbook: tuple, other: tuple, textbook_params, other_params, dtype: str) -> list[dict]:
    """The other backend's loss, gradients and new parameters against the textbook ones."""
    rows = []
    gradients, trajectory = TOLERANCES[("gradients", dtype)], TOLERANCES[("trajectory", dtype)]
    items = [("loss", "", other[0], textbook[0], gradients)]
    items += [(f"d{name}", index, other[1][index][name], textbook[1][index][name], gradients)
              for index in range(len(textbook[1])) for name in textbook[1][index]]
    items += [(f"new {name}", index, other_params[index][name], textbook_params[index][name], trajectory)
              for index in range(len(textbook[1])) for name in textbook[1][index]]
    for what, layer, got, expected, tolerance in items:
        result = compare(got, expected, tolerance)
        rows.append({"backend": label, "layer": layer, "value": what, "max |diff|": result.max_abs_diff,
                     "tolerance used": result.tolerance_used, "agrees": result.passed})
    return rows


def compare_all(spec: NetworkSpec | dict, X: Any, y: Any, backends: list[str], seed: int = 0,
                dtype: str = "float64") -> list[dict]:
    """Every backend's autograd gradients beside the hand-computed (textbook) ones, one row per parameter."""
    textbook = build(spec, "numpy", dtype, seed, mode="reference")
    loss, grads = textbook.loss_and_grads(X, y)
    rows = []
    for name in backends:
        other = build(spec, name, dtype, seed)
        other_loss, other_grads = other.loss_and_grads(X, y)
        rows += [row for row in _compare(f"{name}:{other.mode}", (loss, grads), (other_loss, other_grads),
                                         textbook.get_params(), textbook.get_params(), dtype)
                 if not row["value"].startswith("new")]
    return rows


# Arrays up to this many elements are shown in full; larger ones as their shape and a summary.
SHOWN_IN_FULL = 24


def shown(value: Any) -> str:
    """A value as text: numbers with 4 significant digits, small arrays in full, large ones summarized."""
    if value is None:
        return ""
    if np.ndim(value) == 0:
        return f"{float(value):.6g}"
    array = np.asarray(value, dtype=np.float64)
    if array.size <= SHOWN_IN_FULL:
        return np.array2string(array, precision=4, suppress_small=True, max_line_width=100).replace("\n", " ")
    return (f"shape {array.shape}: min {array.min():.4g}, mean {array.mean():.4g}, max {array.max():.4g}, "
            f"‖·‖ {np.linalg.norm(array):.4g}")


def render(traces: list[StepTrace], markdown: bool = False) -> str:
    """The trace as text for a terminal, or as Markdown for notes and teaching."""
    lines = []
    for record in traces:
        lines.append(f"## Step {record.step}" if markdown else f"===== step {record.step} =====")
        for title, groups in (("Forward", record.forward), ("Loss", [record.loss]), ("Backward", record.backward),
                              ("Update", [record.update])):
            lines.append(f"\n### {title}\n" if markdown else f"--- {title.lower()} ---")
            for group in groups:
                lines += [_line(entry, markdown) for entry in group]
        if record.comparisons:
            lines.append("\n### Beside it\n" if markdown else "--- the same step on another backend ---")
            lines += [_comparison(row, markdown) for row in record.comparisons]
    return "\n".join(lines) + "\n"


def _line(entry: Entry, markdown: bool) -> str:
    value = shown(entry.value)
    if np.ndim(entry.value) > 0:
        entry = Entry(f"{entry.name} {tuple(np.shape(entry.value))}", entry.formula, entry.value)
    if markdown:
        return f"- **{entry.name}**: `{entry.formula}`" + (f"\n  `{value}`" if value else "")
    return f"{entry.name:<26} {entry.formula}" + (f"\n{'':<26} {value}" if value else "")


def _comparison(row: dict, markdown: bool) -> str:
    verdict = "agrees" if row["agrees"] else "DISAGREES"
    where = f"layers[{row['layer']}] " if row["layer"] != "" else ""
    text = (f"{row['backend']} {where}{row['value']}: max |diff| {row['max |diff|']:.2e} "
            f"({row['tolerance used']:.1e} of the tolerance) {verdict}")
    return f"- {text}" if markdown else text
