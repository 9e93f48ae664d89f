"""What machine, software and source produced a report: ``environment.json``, written at the start of a run and
completed at its end.

Package versions come from installed metadata, so no framework is imported here; NumPy's BLAS comes from
threadpoolctl. Provenance (DESIGN.md section 5): the exact command line as the interpreter received it, the git
commit, and whether the working tree was clean — tracked changes and untracked files both count, except the run's
own output folder, which the run itself rewrites. The git state is read before anything is written and again at
the end, so a tree that changed during the run is reported too. Only a run from a clean tree that stayed clean is
a committed run (:func:`is_committed`).
"""

from __future__ import annotations

import json
import os
import platform
import shlex
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


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def changed_paths(porcelain: str, out: Path | None) -> list[str]:
    """Paths of ``git status --porcelain`` output, without those inside the output folder ``out``."""
    skip = None
    if out is not None:
        try:
            skip = Path(out).resolve().relative_to(ROOT).as_posix().rstrip("/") + "/"
        except ValueError:
            skip = None
    paths = []
    for line in porcelain.splitlines():
        path = line[3:].split(" -> ")[-1].strip('"')
        if path and not (skip and (path + "/").startswith(skip)):
            paths.append(path)
    return paths


def git_state(out: Path | None = None) -> dict:
    """``{"commit", "clean", "changed"}``: HEAD and the working tree's changed or untracked paths, outside ``out``."""
    try:
        commit = _git("rev-parse", "HEAD").strip()
        changed = changed_paths(_git("status", "--porcelain", "--untracked-files=normal"), out)
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown", "clean": False, "changed": ["(not a git checkout)"]}
    return {"commit": commit, "clean": not changed, "changed": changed}


def command_line(argv: list[str] | None) -> str:
    """The exact command: the interpreter's own argv when run from the shell, else the benchmark's arguments."""
    if argv is None:
        return shlex.join(getattr(sys, "orig_argv", sys.argv))
    return shlex.join(["python", "-m", "benchmarks.run", *argv])


def blas_info() -> list[dict]:
    import numpy  # noqa: F401  (loads NumPy's BLAS so threadpoolctl can see it)
    from threadpoolctl import threadpool_info

    keep = ("user_api", "internal_api", "version", "num_threads", "threading_layer", "architecture")
    return [{key: pool.get(key) for key in keep} for pool in threadpool_info()]


def capture(command: str, settings: dict, out: Path | None) -> dict:
    """The environment record at the start of a run: CPU, cores, packages, BLAS, settings, command and git state."""
    git = git_state(out)
    return {"timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"), "command": command,
            "cwd": os.getcwd(), "python_executable": sys.executable, "cpu_model": cpu_model(),
            "cpu_count": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
            "platform": platform.platform(), "python": sys.version.split()[0], "packages": package_versions(),
            "numpy_blas": blas_info(), "settings": settings, "git": git,
            "git_commit": git["commit"] + ("" if git["clean"] else "+dirty")}


def finish(record: dict, out: Path | None, seconds: float, interrupted: bool) -> dict:
    """The record completed at the end of a run: the git state again, the wall time, and whether it was stopped."""
    return {**record, "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "wall_s": round(seconds, 1), "interrupted": interrupted, "git_at_end": git_state(out)}


def is_committed(record: dict) -> bool:
    """True only for a run made from a clean tree that was still clean, at the same commit, when it ended."""
    start, end = record.get("git", {}), record.get("git_at_end", record.get("git", {}))
    return bool(start.get("clean") and end.get("clean") and start.get("commit") == end.get("commit"))


def write(path: Path, record: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")
    os.replace(tmp, path)
