"""``python -m backprop explain``: the glass-box trace works for every preset and any spec file, its numbers are the
training step's own, and every backend's autograd agrees with the hand-computed gradients."""

from __future__ import annotations

import numpy as np
import pytest

import backprop
from backprop.agreement import TRAINING_LAYERS
from backprop.cli import main
from backprop.explain import compare_all, render, trace
from backprop.presets import PRESETS


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_can_be_explained(name, capsys):
    main(["explain", "--preset", name, "--batch", "3"])
    out = capsys.readouterr().out
    for section in ("--- forward ---", "--- loss ---", "--- backward ---", "--- update ---", "δ = dL/dz", "dW"):
        assert section in out
    assert "DISAGREES" not in out and "agrees" in out


def test_the_trace_shows_the_step_that_is_taken():
    """dW in the trace is the gradient the update applies: new W = old W − lr·dW for sgd."""
    spec = backprop.as_spec(PRESETS["xor-bce"].spec)
    data = PRESETS["xor-bce"].data()
    before = backprop.build(spec, "numpy", "float64", 0, mode="reference").get_params()
    step = trace(spec, data.X_train, data.y_train, steps=1)[0]
    dW = next(entry.value for group in step.backward for entry in group if entry.name == "dW")
    new_W = next(entry.value for entry in step.update if entry.name == "layers[1].W")
    np.testing.assert_allclose(new_W, before[1]["W"] - spec.optimizer.lr * dW, rtol=1e-12)


def test_a_spec_file_with_training_layers_is_explained_in_markdown(tmp_path, backend):
    path = tmp_path / "net.json"
    backprop.as_spec({**TRAINING_LAYERS, "optimizer": "adam"}).to_json(path)
    out = tmp_path / "trace.md"
    main(["explain", "--spec", str(path), "--backend", backend, "--steps", "2", "--format", "markdown",
          "--out", str(out)])
    text = out.read_text()
    assert text.startswith("## Step 1") and "## Step 2" in text and "DISAGREES" not in text
    assert "dgamma" in text and "batch_norm" in text and "dropout" in text


def test_compare_all_puts_every_autograd_beside_the_hand_computed_gradients():
    data = PRESETS["digits-cnn"].data()
    rows = compare_all(PRESETS["digits-cnn"].spec, data.X_train[:6], data.y_train[:6],
                       backprop.available_backends())
    assert {row["backend"].split(":")[0] for row in rows} == set(backprop.available_backends())
    assert all(row["agrees"] for row in rows)
    assert "agrees" in render(trace(PRESETS["digits-cnn"].spec, data.X_train[:2], data.y_train[:2]))
