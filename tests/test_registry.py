"""Backends by name: clear errors for unknown and uninstalled backends, lazy framework imports."""

import subprocess
import sys

import pytest

import backprop
from backprop import BackendError
from backprop.registry import BackendInfo, register_backend, BACKENDS


@pytest.mark.bad_input
def test_unknown_backend_lists_known_names():
    with pytest.raises(BackendError) as error:
        backprop.build({"input_dim": 1, "layers": [{"units": 1}]}, backend="mxnet")
    assert all(name in str(error.value) for name in ("numpy", "torch", "tensorflow", "jax"))


@pytest.mark.bad_input
def test_uninstalled_backend_names_the_extra():
    register_backend(BackendInfo("ghost", "backends.ghost", ("no_such_framework_xyz",), "ghost"))
    try:
        with pytest.raises(BackendError, match=r"install the 'ghost' extra"):
            backprop.build({"input_dim": 1, "layers": [{"units": 1}]}, backend="ghost")
        assert "ghost" not in backprop.available_backends()
    finally:
        del BACKENDS["ghost"]


def test_unknown_mode_lists_modes():
    with pytest.raises(BackendError, match="offers modes eager"):
        backprop.build({"input_dim": 1, "layers": [{"units": 1}]}, backend="numpy", mode="turbo")


def test_frameworks_are_imported_only_when_built():
    code = ("import sys, backprop, backends; m = backprop.build({'input_dim': 2, 'layers': [{'units': 1}]}); "
            "m.train_step([[1.0, 2.0]], [[0.5]]); backprop.available_backends(); "
            "print(sorted({'torch', 'tensorflow', 'jax', 'keras', 'optax'} & set(sys.modules)))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"
