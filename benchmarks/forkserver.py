"""Fresh benchmark processes without an import in each: one fork server per framework and thread count.

A server (``python -m benchmarks.forkserver THREADS FRAMEWORK``) pins its threads first
(:func:`benchmarks.threads.pin_before_import`), imports the framework, the suite's backend for it and the harness
modules (:data:`PRELOAD`; the harness alone for a backend registered from outside; torch's ``_dynamo``, which its
optimizers import on first use), and does nothing else: no op runs, no model is built, no framework thread pool, XLA
client or TF context exists. Then, for each request, it forks. The fork is a new OS process with its own
copy-on-write memory, standing exactly where a fresh interpreter stands after those imports; it runs
:func:`benchmarks.child.main` on the cell and exits. What this saves is the import (about 6 s for TensorFlow and 3 s
for torch in every process), which is never on the clock either way; ``python -m benchmarks.run --start spawn``
starts every process from a new interpreter instead, for a skeptic who wants to compare.

Protocol (one JSON line per request on the server's stdin, answers as lines on its stdout): request
``{"argv": [payload, result_path], "log": path}``; answers ``ready`` once after the imports, then for each request
the fork's pid and, once it has exited, its exit code (negative: killed by that signal), as
:attr:`subprocess.Popen.returncode` gives it. The fork leads its own process group, writes its output to ``log``
and reads nothing. The client (:class:`ForkServers`) kills a fork that passes its timeout by its process group.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HARNESS = ("numpy", "threadpoolctl", "backprop", "backends.numpy", "benchmarks.child", "benchmarks.timing",
           "benchmarks.reference_loops")
PRELOAD = {
    "numpy": HARNESS,
    "sklearn": (*HARNESS, "sklearn.neural_network"),
    "torch": (*HARNESS, "torch", "torch._dynamo", "backends.torch", "benchmarks.reference_torch"),
    "tensorflow": (*HARNESS, "tensorflow", "keras", "backends.tensorflow", "benchmarks.reference_tensorflow"),
    "jax": (*HARNESS, "jax", "optax", "backends.jax", "benchmarks.reference_jax"),
}


def serve(threads: int, framework: str) -> int:
    """The server loop: pin, import, then fork one child per request line until stdin closes."""
    from .threads import pin_before_import

    pin_before_import(threads)
    for module in PRELOAD.get(framework, HARNESS):
        importlib.import_module(module)
    answer("ready")
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            run_fork(request)
        answer(str(pid))
        _, status = os.waitpid(pid, 0)
        answer(str(os.waitstatus_to_exitcode(status)))
    return 0


def answer(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def run_fork(request: dict) -> None:
    """In the fork: lead a new process group, send output to the request's log, run the child, exit."""
    code = 1
    try:
        os.setpgid(0, 0)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        from .child import main

        code = main(request["argv"])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


@dataclass
class Outcome:
    """How one process ended: its exit code (None: killed at the timeout) and its output's last lines."""

    returncode: int | None
    output: str


class ServerError(RuntimeError):
    """A fork server died or never became ready; the message says what it printed."""


class Server:
    """The client side of one fork server."""

    def __init__(self, threads: int, framework: str, root: Path, env: dict, log_dir: Path):
        self.log = log_dir / f"server-{framework}-{threads}.log"
        with open(self.log, "wb") as errors:
            self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.forkserver", str(threads), framework],
                                         cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=errors, bufsize=0, start_new_session=True)
        self.buffer = b""
        try:
            self.read_line(timeout=600.0, expect="ready")
        except BaseException:
            self.close()
            raise

    def read_line(self, timeout: float | None, expect: str | None = None) -> str | None:
        """The server's next answer line, or None when ``timeout`` seconds pass first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([self.proc.stdout], [], [], left)[0]:
                return None
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                tail = self.log.read_text(errors="replace").strip().splitlines()[-3:]
                raise ServerError(f"fork server exited: {' | '.join(tail)}"[:500])
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        text = line.decode()
        if expect is not None and text != expect:
            raise ServerError(f"fork server said {text!r}, expected {expect!r}")
        return text

    def run(self, argv: list[str], log: Path, timeout: float) -> Outcome:
        """Fork one child for ``argv``; kill its process group if it runs past ``timeout`` seconds."""
        self.proc.stdin.write((json.dumps({"argv": argv, "log": str(log)}) + "\n").encode())
        line = self.read_line(timeout=60.0)
        if line is None:
            raise ServerError("fork server gave no pid within 60 s")
        pid = int(line)
        try:
            status = self.read_line(timeout=timeout)
        except BaseException:
            kill_group(pid)
            raise
        if status is None:
            kill_group(pid)
            self.read_line(timeout=60.0)
        output = log.read_text(errors="replace") if log.exists() else ""
        return Outcome(None if status is None else int(status), output)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                kill_group(self.proc.pid)
                self.proc.wait()


def kill_group(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
            return
        except (ProcessLookupError, PermissionError):
            continue


class ForkServers:
    """Fork servers started on first use, one per (framework, thread count), closed together."""

    def __init__(self, root: Path, env: dict, log_dir: Path):
        self.root, self.env, self.log_dir = root, env, log_dir
        self.servers: dict[tuple[str, int], Server] = {}

    def run(self, framework: str, threads: int, argv: list[str], log: Path, timeout: float) -> Outcome:
        """Run one child forked from the server of ``framework`` at ``threads``; a dead server is restarted for
        the next request and this one reports how it died."""
        key = (framework, threads)
        try:
            if key not in self.servers:
                self.servers[key] = Server(threads, framework, self.root, self.env, self.log_dir)
            return self.servers[key].run(argv, log, timeout)
        except ServerError:
            server = self.servers.pop(key, None)
            if server is not None:
                server.close()
            raise

    def close(self) -> None:
        for server in self.servers.values():
            server.close()
        self.servers.clear()

    def __enter__(self) -> "ForkServers":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1]), sys.argv[2]))
