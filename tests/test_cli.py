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
