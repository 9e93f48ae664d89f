"""Thread control for one benchmark subprocess: fixed before any framework import, verified afterwards.

Order matters. :func:`pin_before_import` runs first in the child (environment variables read at library load,
CPU affinity); :func:`apply_framework_settings` then imports the framework and calls its own setters before any
work runs. :class:`ThreadProbe` measures what actually happened during the timed region.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass

# Read by OpenMP (torch, oneDNN), OpenBLAS/MKL/BLIS (NumPy), and TensorFlow's runtime at library load time.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                   "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                   "TF_NUM_INTEROP_THREADS")


def pin_before_import(threads: int) -> dict:
    """Set the thread environment and pin the process to ``threads`` CPUs; call before importing any framework.

    Affinity is applied to every backend alike (it is the only control XLA's CPU client fully obeys); the XLA flag
    additionally turns off Eigen's multi-threading for a 1-thread cell. Returns the settings, for the results row.
    """
    for var in THREAD_ENV_VARS:
        os.environ[var] = str(threads)
    cpus = sorted(os.sched_getaffinity(0))
    if threads < len(cpus):
        os.sched_setaffinity(0, cpus[:threads])
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false".strip()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return {"affinity": len(os.sched_getaffinity(0)), "env_threads": threads}


def apply_framework_settings(backend: str, threads: int) -> None:
    """Import the framework behind ``backend`` and fix its own thread pools (before any op runs)."""
    framework = backend.split("-")[0]
    if framework in ("numpy", "sklearn"):
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    elif framework == "torch":
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(threads)
    elif framework == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def framework_threads(backend: str) -> int | None:
    """The compute-thread count the framework reports, where it has one to ask."""
    framework = backend.split("-")[0]
    if framework in ("numpy", "sklearn"):
        from threadpoolctl import threadpool_info

        counts = [pool["num_threads"] for pool in threadpool_info()]
        return max(counts) if counts else None
    if framework == "torch":
        import torch

        return torch.get_num_threads()
    if framework == "tensorflow":
        import tensorflow as tf

        return tf.config.threading.get_intra_op_parallelism_threads() or None
    return None


def os_thread_count() -> int:
    """Threads of this process right now (entries of /proc/self/task), pools and helpers included."""
    return len(os.listdir("/proc/self/task"))


@dataclass
class ThreadProbe:
    """CPU time ÷ wall time over a region: the number of cores the process actually kept busy.

    Usage: ``probe = ThreadProbe.start()`` … ``probe.stop()``; then ``probe.cpu_per_wall``.
    """

    wall0: float
    cpu0: float
    cpu_per_wall: float = float("nan")

    @classmethod
    def start(cls) -> "ThreadProbe":
        return cls(time.perf_counter(), _cpu_seconds())

    def stop(self) -> float:
        wall = time.perf_counter() - self.wall0
        self.cpu_per_wall = (_cpu_seconds() - self.cpu0) / wall if wall > 0 else float("nan")
        return self.cpu_per_wall


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def verify(threads: int, affinity: int, cpu_per_wall: float, reported: int | None) -> bool:
    """True when the setting took effect: pinned to ``threads`` CPUs, never busier than that (10 % + 0.05 slack
    for clock granularity), and the framework's own count, where it has one, equals ``threads``."""
    busy_ok = cpu_per_wall <= threads * 1.1 + 0.05
    return affinity == threads and busy_ok and (reported is None or reported == threads)
