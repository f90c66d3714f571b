"""Server subprocesses under test: ``lamina serve`` and the echo floor, each on a free port.

``start`` returns once the server answers ``GET /_lamina/health`` (any 200 for the echo
server), and records how long that took from the moment the process was spawned.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import rawhttp

ROOT = Path(__file__).resolve().parent.parent
"""The repository, so that ``python -m benchmarks.…`` works from any working directory."""
HEALTH_PATH = "/_lamina/health"
_POLL_S = 0.002


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_environment(pycache_prefix: Path | None = None) -> dict[str, str]:
    """This process's environment, with the repository importable and output unbuffered.

    With ``pycache_prefix``, bytecode is cached there even if PYTHONDONTWRITEBYTECODE is set
    here, so that a server starts the way an installed one does (from .pyc files) without
    writing into the source tree.
    """
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}
    if pycache_prefix is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache_prefix)
    return env


class ServerProcess:
    """One server subprocess, its log file, and how long it took to become ready."""

    def __init__(
        self, argv: list[str], port: int, log_path: Path, pycache_prefix: Path | None = None
    ) -> None:
        self.argv = argv
        self.pycache_prefix = pycache_prefix
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.ready_after_s: float | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout_s: float = 30.0) -> float:
        """Spawn the server and wait for its first 200 on the health path; seconds it took."""
        with self.log_path.open("ab") as log:
            started = time.perf_counter()
            self.process = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_environment(self.pycache_prefix),
            )
        deadline = started + timeout_s
        while time.perf_counter() < deadline:
            if self._answers_health():
                self.ready_after_s = time.perf_counter() - started
                return self.ready_after_s
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.argv[2]} exited early:\n{self.log()}")
            time.sleep(_POLL_S)
        self.stop(signal.SIGKILL)
        raise RuntimeError(f"{self.argv[2]} did not become ready in {timeout_s} s:\n{self.log()}")

    def _answers_health(self) -> bool:
        try:
            return rawhttp.get(self.port, HEALTH_PATH, timeout_s=2.0).status == 200
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> int | None:
        """Stop the server (SIGKILL if it has not exited in time); its exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process = None
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def lamina_server(work_dir: Path, name: str = "lamina") -> ServerProcess:
    """``lamina serve`` on a free port with a fresh data directory under ``work_dir``; its
    memory budget holds every environment the suite starts (1,769 MB each), so cold starts are
    measured without evictions."""
    port = free_port()
    data_dir = work_dir / f"{name}-data"
    argv = [
        sys.executable, "-m", "lamina", "serve",
        "--port", str(port), "--data-dir", str(data_dir), "--memory-budget", str(1 << 30),
    ]  # fmt: skip
    return ServerProcess(argv, port, work_dir / f"{name}.log", work_dir / "pycache")


def echo_server(work_dir: Path) -> ServerProcess:
    port = free_port()
    argv = [sys.executable, "-m", "benchmarks.echo", str(port)]
    return ServerProcess(argv, port, work_dir / "echo.log", work_dir / "pycache")
