"""The benchmark's convolutional, dropout, batch-norm and fcn5 models: their place in the default plan, spec files as
``--models`` entries, and a batch curve per model and a time-to-accuracy table per task in the report.

Harness tests only: end-to-end runs use the NumPy backend on tiny configs, the report is built from made-up block
times, and no test asserts a timing.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from backprop.spec import as_spec
from benchmarks.cells import plan
from benchmarks.models import named_models, resolve_model
from benchmarks.reference_loops import supports
from benchmarks.results import ResultStore
from benchmarks.sweeps import DEFAULT, FULL
from benchmarks.time_to_accuracy import TASKS
from tests.test_benchmark_loops import TINY_CNN
from tests.test_benchmarks import harness, rows, synthetic

BEST = {"numpy:eager", "torch:eager", "tensorflow:xla", "jax:jit"}
LOOPS = {"torch-minimal:eager-fused", "tensorflow-minimal:xla", "jax-minimal:jit-donate"}


def labels_in(cells, model: str, sweep: str = "models") -> set[str]:
    return {cell.label for cell in cells if cell.model == model and sweep in cell.sweep.split("+")}


def test_the_larger_models_get_the_best_modes_in_the_default_plan_and_their_loops_in_full():
    cells = plan(DEFAULT)
    for name in ("lenet5", "cifar-cnn", "cifar-cnn-native-masks", "fcn5"):
        assert labels_in(cells, name) == BEST, name
    full = plan(FULL)
    assert LOOPS <= labels_in(full, "lenet5") and LOOPS <= labels_in(full, "cifar-cnn-native-masks")
    assert not any("minimal" in label for label in labels_in(full, "cifar-cnn"))  # no loop draws suite masks
    assert labels_in(cells, "mnist-bn") == BEST | {"numpy:reference"}
    assert {cell.batch_size for cell in cells if cell.model == "cifar-cnn" and "batch" in cell.sweep} == {16, 32, 64}
    assert labels_in(cells, "cifar-cnn", "batch") == BEST and labels_in(cells, "mnist", "batch") == BEST
    assert {cell.batch_size for cell in cells if cell.model == "mnist" and "batch" in cell.sweep} == {1, 128, 1024}
    tta = [cell for cell in cells if cell.kind == "tta"]
    assert {cell.label for cell in tta if cell.model == "digits"} == {"numpy:eager", "torch:eager", "jax:jit",
                                                                      "sklearn:sklearn"}
    lenet = [cell for cell in tta if cell.model == "mnist-lenet5"]
    assert {cell.label for cell in lenet} == {"numpy:eager", "torch:eager", "jax:jit"}
    optimizer = as_spec(lenet[0].spec).optimizer
    assert optimizer.name == "adamw" and optimizer.schedule.name == "cosine" and lenet[0].batch_size == 64
    assert optimizer.schedule.decay_steps == TASKS["mnist-lenet5"].max_epochs * 63


def test_the_named_networks_are_the_specified_ones_and_report_a_width():
    from backprop.presets import LENET5

    models = named_models()
    assert models["lenet5"].spec == LENET5 and models["lenet5"].large and models["lenet5"].batch_size == 128
    cifar = as_spec(models["cifar-cnn"].spec)
    assert [layer.type for layer in cifar.layers] == ["conv2d", "conv2d", "max_pool2d", "dropout", "conv2d",
                                                      "conv2d", "max_pool2d", "dropout", "flatten", "dense",
                                                      "dropout", "dense"]
    assert cifar.input_shape == (32, 32, 3) and cifar.optimizer.name == "momentum" and cifar.dropout_rng == "suite"
    native = models["cifar-cnn-native-masks"].spec
    assert native == {**models["cifar-cnn"].spec, "dropout_rng": "native"}
    assert models["fcn5"].widths == [26752, 2048, 2048, 2048, 26752] and models["fcn5"].batch_size == 64
    assert models["lenet5"].widths == [784, 6, 16, 120, 84, 10] and models["lenet5"].hidden_width == 120
    assert models["cifar-cnn"].hidden_width == 512
    assert models["mnist-bn"].widths == [784, 256, 256, 10] and not models["mnist-bn"].large
    assert resolve_model("mlp:784-32-32-10:relu").hidden_width == 32 and models["mnist"].hidden_width == 256


def test_the_mnist_lenet5_task_counts_its_schedule_from_the_presets_training_split():
    task = TASKS["mnist-lenet5"]
    assert len(task.data().X_train) == task.train_rows and task.steps_per_epoch == 63 and not task.sklearn
    assert TASKS["digits"].sklearn and len(TASKS["digits"].data().X_train) == TASKS["digits"].train_rows


def test_a_spec_file_is_timed_beside_a_named_model(tmp_path):
    path = tmp_path / "tiny-cnn.json"
    path.write_text(json.dumps(TINY_CNN))
    result = harness(tmp_path / "out", "--models", f"{path},xor", backends="numpy")
    assert result.returncode == 0, result.stderr
    steps = {row["model"]: row for row in rows(tmp_path / "out") if row["kind"] == "step"}
    assert set(steps) == {"tiny-cnn", "xor"}
    assert steps["tiny-cnn"]["status"] == "ok" and steps["tiny-cnn"]["batch_size"] == "64"
    assert steps["tiny-cnn"]["hidden_width"] == "3" and float(steps["tiny-cnn"]["step_median_s"]) > 0


@pytest.mark.parametrize("content", [None, "{not json", json.dumps({**TINY_CNN, "loss": "hinge"})])
def test_a_missing_or_invalid_spec_file_is_a_usage_error_naming_it(tmp_path, content):
    path = tmp_path / "broken.json"
    if content is not None:
        path.write_text(content)
    result = harness(tmp_path / "out", "--models", f"xor,{path}", backends="numpy")
    assert result.returncode == 2, result.stdout
    assert str(path) in result.stderr and result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr


def test_two_different_networks_under_one_name_are_a_usage_error(tmp_path):
    path = tmp_path / "xor.json"
    path.write_text(json.dumps(TINY_CNN))
    result = harness(tmp_path / "out", "--models", f"xor,{path}", backends="numpy")
    assert result.returncode == 2 and "xor" in result.stderr and "Traceback" not in result.stderr


def test_the_report_has_a_batch_curve_per_model_and_a_time_to_accuracy_table_per_task(tmp_path):
    from benchmarks.report import write_report

    store = ResultStore(tmp_path, resume=False)
    drifts = [1.0, 1.1, 0.95]
    points = [("mnist", batch, label, center) for batch, center in ((1, 0.1), (128, 1.0)) for label, center in
              (("numpy:eager", center), ("jax:jit", 1.3 * center))]
    points += [("cifar-cnn", batch, label, center) for batch, center in ((16, 20.0), (64, 80.0)) for label, center
               in (("numpy:eager", center), ("jax:jit", 0.5 * center))]
    for index, (model, batch, label, center) in enumerate(points):
        backend, mode = label.split(":")
        for r, blocks in synthetic(center * 1e-3, drifts, seed=index).items():
            store.add({"sweep": "batch", "kind": "step", "backend": backend, "mode": mode, "label": label,
                       "model": model, "batch_size": batch, "threads": 2, "dtype": "float32", "round": r,
                       "status": "ok", "step_median_s": float(np.median(blocks)), "block_s": list(blocks),
                       "flops_per_step": 10.0})
    for index, (model, label, epoch) in enumerate((("digits", "numpy:eager", 0.05), ("digits", "jax:jit", 0.07),
                                                  ("mnist-lenet5", "numpy:eager", 1.2),
                                                  ("mnist-lenet5", "torch:eager", 0.9))):
        backend, mode = label.split(":")
        for r, blocks in synthetic(epoch, drifts, seed=10 + index).items():
            curve = [{"epoch": e, "wall_s": e * epoch, "loss": 1.0 / e, "test_accuracy": 0.9 + 0.02 * e}
                     for e in (1, 2, 3)]
            store.add({"sweep": "tta", "kind": "tta", "backend": backend, "mode": mode, "label": label,
                       "model": model, "batch_size": 32, "threads": 2, "dtype": "float32", "round": r,
                       "status": "ok", "step_median_s": float(np.median(blocks)) / 40, "block_s": list(blocks),
                       "epoch_s": float(np.median(blocks)), "tta_s": 3 * epoch, "tta_epochs": 3}, curve)
    write_report(tmp_path)
    report = (tmp_path / "benchmark.md").read_text()
    assert "## Scaling with batch size (mnist)" in report and "## Scaling with batch size (cifar-cnn)" in report
    assert "### digits: digits 64-128-10" in report and "### mnist-lenet5: MNIST 28×28" in report
    summary = (tmp_path / "summary.md").read_text()
    assert "Scaling with batch size (cifar-cnn)**: batch 16: jax:jit wins" in summary
    assert "Time to 95 % test accuracy, MNIST 28×28" in summary
    assert {"step_time_vs_batch.png", "time_to_accuracy.png", "loss_vs_wallclock.png"} <= {
        path.name for path in tmp_path.iterdir()}


def test_the_minimal_loops_take_dropout_only_when_the_suite_draws_native_masks_too():
    models = named_models()
    assert supports(as_spec(models["cifar-cnn-native-masks"].spec)) and supports(as_spec(models["lenet5"].spec))
    assert not supports(as_spec(models["cifar-cnn"].spec)) and not supports(as_spec(models["mnist-bn"].spec))
