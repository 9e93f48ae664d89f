"""``python -m backprop``: list, train and check."""

import pytest

from backprop.cli import main


def test_list_shows_backends_and_presets(capsys):
    main(["list"])
    out = capsys.readouterr().out
    assert all(name in out for name in ("numpy", "torch", "tensorflow", "jax", "xor-mse", "digits"))


def test_train_reports_final_loss_and_goal(capsys):
    main(["train", "--preset", "linear", "--backend", "numpy"])
    out = capsys.readouterr().out
    assert "final training loss" in out and "reached" in out


def test_check_prints_finite_difference_table(capsys):
    main(["check", "--preset", "xor-mse"])
    out = capsys.readouterr().out
    assert "max_rel_err" in out and "False" not in out


def test_bad_preset_is_rejected(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--preset", "nope"])
    assert "invalid choice" in capsys.readouterr().err


def cli_stderr(*args: str) -> str:
    """stderr of ``python -m backprop ARGS`` in a fresh process, without the progress bar's lines."""
    import os
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-m", "backprop", *args], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return "\n".join(line for line in result.stderr.replace("\r", "\n").splitlines()
                     if line.strip() and "epoch/s" not in line and "s/epoch" not in line and "it/s" not in line)


@pytest.mark.parametrize("backend", ["numpy", "torch", pytest.param("tensorflow", marks=pytest.mark.slow), "jax"],
                         indirect=True)
def test_framework_log_lines_are_hidden_unless_verbose(backend):
    """A cross-backend check builds, traces and trains the backend; TensorFlow also trains under XLA."""
    check = ["check", "--preset", "linear", "--backends", backend, "--dtype", "float64"]
    assert cli_stderr(*check) == ""
    if backend == "tensorflow":
        assert cli_stderr("train", "--preset", "linear", "--backend", backend, "--mode", "xla") == ""
        assert "cpu_feature_guard" in cli_stderr(*check, "--verbose")


def test_many_models_do_not_log_retracing_warnings(backend, caplog):
    import numpy as np

    import backprop
    from backprop.spec import mlp_spec

    rng = np.random.default_rng(0)
    for _ in range(6):
        model = backprop.build(mlp_spec([3, 4, 2], "relu", "softmax", "cross_entropy"), backend=backend)
        model.fit(rng.random((37, 3)), rng.integers(0, 2, 37), epochs=1, batch_size=8)
        model.predict(rng.random((11, 3)))
    assert not [record for record in caplog.records if "retracing" in record.getMessage()]


def run_cli(*args: str, cwd=None):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(__import__("pathlib").Path(__file__).resolve().parent.parent)}
    return subprocess.run([sys.executable, "-m", "backprop", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=600)


def csv_data(path, n=120, seed=0):
    """A CSV of 4 numeric feature columns (float, int, bool among them) and a 'label' column of 3 classes."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    frame = pd.DataFrame({"a": rng.normal(size=n) + labels, "b": rng.integers(0, 5, n), "c": labels == 1,
                          "d": rng.normal(size=n) - labels, "label": labels})
    frame.to_csv(path, index=False)
    return frame


def test_summary_train_on_a_csv_save_and_check_a_spec_file(tmp_path):
    import backprop

    spec = {"input_dim": 4, "layers": [{"units": 16, "activation": "relu"}, {"type": "dropout", "rate": 0.1},
                                       {"units": 3, "activation": "softmax"}],
            "loss": "cross_entropy", "optimizer": {"name": "adam", "lr": 0.02}}
    backprop.as_spec(spec).to_json(tmp_path / "net.json")
    csv_data(tmp_path / "train.csv")
    summary = run_cli("summary", "--spec", "net.json", cwd=tmp_path)
    assert summary.returncode == 0 and "Total parameters: 131" in summary.stdout
    trained = run_cli("train", "--spec", "net.json", "--data", "train.csv", "--target", "label", "--epochs", "5",
                      "--batch-size", "16", "--save", "model.npz", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    for line in ("training   loss", "validation loss", "test       loss", "saved model.npz"):
        assert line in trained.stdout
    model = backprop.load(tmp_path / "model.npz", backend="numpy")
    assert model.spec == backprop.as_spec(spec)
    checked = run_cli("check", "--spec", "net.json", "--batch", "6", cwd=tmp_path)
    assert checked.returncode == 0 and "False" not in checked.stdout


@pytest.mark.bad_input
@pytest.mark.parametrize("args, message", [
    (["train", "--spec", "net.json", "--data", "missing.csv", "--target", "label"], "data: no such file"),
    (["train", "--spec", "net.json", "--data", "train.csv", "--target", "nope"], "target: no column 'nope'"),
    (["train", "--spec", "net.json", "--data", "train.csv"], "target: a CSV file needs --target"),
    (["train", "--spec", "net.json", "--data", "wide.csv", "--target", "label"], "X: expected shape (N, 4)"),
    (["train", "--spec", "net.json", "--data", "text.csv", "--target", "label"], "non-numeric column(s) 'name'"),
    (["train", "--spec", "net.json", "--data", "broken.npz"], "is not a readable .npz archive"),
    (["train", "--spec", "notes.txt", "--data", "train.csv", "--target", "label"], "must be a .json file"),
    (["convert", "model.pt", "--out", "x.json"], "--allow-pickle"),
    (["convert", "model.onnx", "--out", "x.json"], "expected a .keras, .pt or .pth file"),
    (["summary", "--spec", "bad.json"], "malformed JSON"),
])
def test_bad_files_columns_and_shapes_are_one_error_line(args, message, tmp_path):
    import backprop

    backprop.as_spec({"input_dim": 4, "layers": [{"units": 3, "activation": "softmax"}],
                      "loss": "cross_entropy"}).to_json(tmp_path / "net.json")
    frame = csv_data(tmp_path / "train.csv")
    frame.assign(e=1.0).to_csv(tmp_path / "wide.csv", index=False)
    frame.assign(name="x").to_csv(tmp_path / "text.csv", index=False)
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really")
    (tmp_path / "notes.txt").write_text("{}")
    (tmp_path / "model.pt").write_bytes(b"\x80\x02")
    (tmp_path / "model.onnx").write_bytes(b"")
    (tmp_path / "bad.json").write_text("{")
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and "%|" not in line]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
