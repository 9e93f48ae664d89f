"""What machine and software produced a report: written to ``environment.json`` at the start of a run.

Package versions come from installed metadata, so no framework is imported here; NumPy's BLAS comes from
threadpoolctl.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

PACKAGES = ("numpy", "scipy", "pandas", "scikit-learn", "torch", "tensorflow", "tensorflow-cpu", "keras", "jax",
            "jaxlib", "optax", "threadpoolctl", "matplotlib")
ROOT = Path(__file__).resolve().parent.parent


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_commit() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def blas_info() -> list[dict]:
    import numpy  # noqa: F401  (loads NumPy's BLAS so threadpoolctl can see it)
    from threadpoolctl import threadpool_info

    keep = ("user_api", "internal_api", "version", "num_threads", "threading_layer", "architecture")
    return [{key: pool.get(key) for key in keep} for pool in threadpool_info()]


def capture(command: list[str], settings: dict) -> dict:
    """The environment record: CPU, cores, packages, BLAS, thread settings, git commit and the command line."""
    return {"timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(["python -m benchmarks.run", *command]),
            "cpu_model": cpu_model(), "cpu_count": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
            "platform": platform.platform(), "python": sys.version.split()[0], "packages": package_versions(),
            "numpy_blas": blas_info(), "settings": settings, "git_commit": git_commit()}


def write(path: Path, record: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")
    os.replace(tmp, path)
