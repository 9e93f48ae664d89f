"""The README's walk-through "Your own model and data", run step by step as a user would: its Python block makes a
Keras model file and a CSV, then each command of its shell block runs in that folder and must succeed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def walkthrough() -> tuple[str, list[str]]:
    """The section's Python block and its shell commands, as the README has them."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Your own model and data", 1)[1].split("\n## ", 1)[0]
    python = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shell = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return python, [line for line in shell.splitlines() if line.strip()]


@pytest.mark.slow
def test_every_step_of_your_own_model_and_data_runs(tmp_path):
    python, commands = walkthrough()
    assert [command.split()[2] for command in commands] == ["backprop", "backprop", "backprop", "benchmarks.run",
                                                             "backprop"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    (tmp_path / "make_example.py").write_text(python)
    subprocess.run([sys.executable, "make_example.py"], cwd=tmp_path, env=env, check=True, capture_output=True)
    for command in commands:
        arguments = command.split()
        assert arguments[0] == "python"
        done = subprocess.run([sys.executable, *arguments[1:]], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    assert {"net.json", "params.npz", "trained.npz"} <= {path.name for path in tmp_path.iterdir()}
    assert "net" in (tmp_path / "my_benchmark" / "results.csv").read_text()
