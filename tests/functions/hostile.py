"""A function that tries to escape its sandbox; ``event["attempt"]`` picks the attempt.

Each attempt returns what happened (an errno name, or what it saw) rather than raising, so the
tests can assert the safe outcome. Standard library only; runs on Python 3.9+.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)


def handler(event: dict[str, Any], context: Any) -> Any:
    return ATTEMPTS[event["attempt"]](event)


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return {"ok": call()}
    except OSError as exc:
        return {"errno": errno.errorcode.get(exc.errno or 0, str(exc.errno))}
    except ValueError as exc:
        return {"error": str(exc)}


def _libc(name: str, *args: Any) -> Any:
    result = getattr(LIBC, name)(*args)
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def read_file(event: dict[str, Any]) -> Any:
    return _outcome(lambda: Path(event["path"]).read_bytes()[:200].decode(errors="replace"))


def write_file(event: dict[str, Any]) -> Any:
    return _outcome(lambda: Path(event["path"]).write_text("owned"))


def list_processes(event: dict[str, Any]) -> Any:
    return sorted(int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit())


def kill_everything(event: dict[str, Any]) -> Any:
    os.kill(-1, signal.SIGKILL)
    return "still here"


def connect(event: dict[str, Any]) -> Any:
    def attempt() -> str:
        address = (event["host"], event["port"])
        try:
            with socket.create_connection(address, timeout=event.get("timeout", 2)):
                return "connected"
        except socket.timeout:  # noqa: UP041 (Python 3.9: not TimeoutError; no errno)
            raise OSError(errno.ETIMEDOUT, "timed out") from None

    return _outcome(attempt)


def fetch(event: dict[str, Any]) -> Any:
    """GET a URL; the body (the outside's echo of the address it saw) or the errno."""
    import urllib.error
    import urllib.request

    def attempt() -> str:
        try:
            with urllib.request.urlopen(event["url"], timeout=event.get("timeout", 5)) as answer:
                return str(answer.read().decode())
        except urllib.error.URLError as exc:  # the reason is the socket's error
            raise exc.reason if isinstance(exc.reason, OSError) else exc from None

    return _outcome(attempt)


_LISTENERS: list[socket.socket] = []


def listen(event: dict[str, Any]) -> Any:
    """Listen on a TCP port of every address of the environment; (its address, the port)."""
    server = socket.create_server(("0.0.0.0", 0))
    _LISTENERS.append(server)  # kept while the environment lives
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((event["towards"], 9))  # no packet: only picks the source address
        address = probe.getsockname()[0]
    return {"address": address, "port": server.getsockname()[1]}


def fork_bomb(event: dict[str, Any]) -> Any:
    children = 0
    while children < 5000:
        try:
            pid = os.fork()
        except OSError as exc:
            return {"stopped_at": children, "errno": errno.errorcode.get(exc.errno or 0)}
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children += 1
    return {"stopped_at": children}


def memory_bomb(event: dict[str, Any]) -> Any:
    hoard = []
    while True:
        hoard.append(bytearray(16 * 1024 * 1024))


def fill_tmp(event: dict[str, Any]) -> Any:
    chunk = b"\0" * (1024 * 1024)
    written = 0
    try:
        with Path("/tmp/fill").open("wb") as out:
            while written < 100_000:
                out.write(chunk)
                out.flush()
                written += 1
    except OSError as exc:
        return {"written_mb": written, "errno": errno.errorcode.get(exc.errno or 0)}
    return {"written_mb": written}


def daemon(event: dict[str, Any]) -> Any:
    subprocess.Popen(["setsid", "sleep", event["marker"]], start_new_session=True)
    return "daemon started"


def raise_limits(event: dict[str, Any]) -> Any:
    return _outcome(lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536)))


def mount(event: dict[str, Any]) -> Any:
    return _outcome(lambda: _libc("mount", b"tmpfs", b"/tmp", b"tmpfs", 0, None))


def ptrace(event: dict[str, Any]) -> Any:
    PTRACE_ATTACH = 16
    return _outcome(lambda: _libc("ptrace", PTRACE_ATTACH, 1, None, None))


def raw_socket(event: dict[str, Any]) -> Any:
    return _outcome(lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))


def user_namespace(event: dict[str, Any]) -> Any:
    CLONE_NEWUSER = 0x10000000
    return _outcome(lambda: _libc("unshare", CLONE_NEWUSER))


def ignore_sigterm_and_spin(event: dict[str, Any]) -> Any:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        pass


def whoami(event: dict[str, Any]) -> Any:
    return {
        "uid": os.getuid(),
        "pid": os.getpid(),
        "processes": list_processes(event),
        "capabilities": [
            line.split()[1]
            for line in Path("/proc/self/status").read_text().splitlines()
            if line.startswith("CapEff")
        ],
    }


ATTEMPTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    name: function
    for name, function in globals().items()
    if callable(function)
    and not name.startswith("_")
    and name not in ("handler", "Path")
    and getattr(function, "__module__", None) == __name__
}
