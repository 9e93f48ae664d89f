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
