"""Start a real ``lamina serve`` as an unprivileged user (``nobody``), from a test run as root.

The server must be able to read lamina and its dependencies. The test's own interpreter may
live where ``nobody`` cannot go (pyenv under ``/root``), so the server runs on a small venv made
for the test from a system interpreter of the same version, whose ``.pth`` file points at
lamina's source and the test venv's installed packages (both must be readable by everyone;
``readable_by_nobody`` says when they are not). Everything is made in a temporary folder and
removed at the end.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import site
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lamina
from tests.conftest import RunningServer, free_port

USER = "nobody"
CGROUP_ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "cpu", "pids", "freezer")
SETPRIV = ("setpriv", "--reuid={uid}", "--regid={gid}", "--clear-groups", "--inh-caps=-all")


@contextmanager
def rootless_workspace() -> Iterator[Workspace]:
    folder = Path(tempfile.mkdtemp(prefix="lamina-rootless-"))
    try:
        folder.chmod(0o755)
        workspace = Workspace(folder)
        workspace.prepare()
        yield workspace
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Workspace:
    """A venv ``nobody`` can run lamina with, and a home folder it owns."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.user = pwd.getpwnam(USER)
        self.home = folder / "home"
        self.venv = folder / "venv"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def prepare(self) -> None:
        self.home.mkdir()
        os.chown(self.home, self.user.pw_uid, self.user.pw_gid)
        base = _system_interpreter()
        subprocess.run([str(base), "-m", "venv", "--without-pip", str(self.venv)], check=True)
        site_dir = next((self.venv / "lib").glob("python3*/site-packages"))
        paths = [str(Path(lamina.__file__).resolve().parent.parent), *site.getsitepackages()]
        (site_dir / "lamina-under-test.pth").write_text("\n".join(paths) + "\n")
        problem = self.readable_by_nobody()
        if problem:
            raise RuntimeError(f"{USER} cannot run lamina from this checkout: {problem}")

    def readable_by_nobody(self) -> str | None:
        result = self.run_as_user([str(self.python), "-c", "import lamina.server"])
        return None if result.returncode == 0 else result.stderr.decode(errors="replace")

    def as_user(self, argv: Sequence[str]) -> list[str]:
        ids = {"uid": self.user.pw_uid, "gid": self.user.pw_gid}
        return [part.format(**ids) for part in SETPRIV] + list(argv)

    def env(self) -> dict[str, str]:
        # /root/bin: a PATH often holds folders its user may not enter; lamina must cope.
        return {"PATH": "/root/bin:/usr/bin:/bin", "HOME": str(self.home),
                "PYTHONUNBUFFERED": "1", "LANG": "C.UTF-8"}  # fmt: skip

    def run_as_user(self, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            self.as_user(argv), env=self.env(), capture_output=True, timeout=60, **kwargs
        )

    def serve_argv(self, data_dir: Path, port: int, *extra: str) -> list[str]:
        return [str(self.python), "-m", "lamina", "serve", "--port", str(port),
                "--data-dir", str(data_dir), *extra]  # fmt: skip

    def server(self, *extra: str, name: str = "data") -> RootlessServer:
        return RootlessServer(self, self.home / name, free_port(), list(extra))


class RootlessServer(RunningServer):
    """A RunningServer whose process is ``lamina serve`` run by ``nobody``."""

    def __init__(self, workspace: Workspace, data_dir: Path, port: int, extra: list[str]) -> None:
        super().__init__(data_dir, port, extra)
        self.workspace = workspace

    def _spawn(self, log: Any) -> subprocess.Popen[bytes]:
        argv = self.workspace.serve_argv(self.data_dir, self.port, *self.extra_args)
        return subprocess.Popen(
            self.workspace.as_user(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.workspace.env(),
            cwd=self.workspace.home,
        )


def _system_interpreter() -> Path:
    """An interpreter of the test's Python version that every user may run."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [Path(sys.executable).resolve(), Path("/usr/local/bin", version),
                  Path("/usr/bin", version)]  # fmt: skip
    for candidate in candidates:
        if candidate.is_file() and _everyone_can_run(candidate):
            return candidate
    raise RuntimeError(f"no {version} that {USER} may run (tried {candidates})")


def _everyone_can_run(path: Path) -> bool:
    for folder in [*path.parents]:
        if not folder.stat().st_mode & 0o001:
            return False
    return bool(path.stat().st_mode & 0o005 == 0o005)


NO_USER_NAMESPACES = """
import ctypes, os, sys
CLONE_NEWUSER = 0x10000000
libc = ctypes.CDLL(None, use_errno=True)
ready_r, ready_w = os.pipe()
go_r, go_w = os.pipe()
pid = os.fork()
if pid == 0:
    if libc.unshare(CLONE_NEWUSER) != 0:
        sys.exit(f"unshare: {os.strerror(ctypes.get_errno())}")
    os.write(ready_w, b"u")
    os.read(go_r, 1)
    with open("/proc/sys/user/max_user_namespaces", "w") as f:
        f.write("0")  # in this user namespace only: the host's setting is untouched
    uid, gid = int(sys.argv[1]), int(sys.argv[2])
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    os.execvp(sys.argv[3], sys.argv[3:])
os.read(ready_r, 1)
for name in ("uid_map", "gid_map"):
    with open(f"/proc/{pid}/{name}", "w") as f:
        f.write("0 0 65536")
os.write(go_w, b"g")
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""
"""Run as root: ``argv[3:]`` as uid ``argv[1]`` in a user namespace (identity map) whose
``user.max_user_namespaces`` is 0, the state of a host that forbids user namespaces."""


def without_user_namespaces(workspace: Workspace, argv: Sequence[str]) -> list[str]:
    """``argv`` run by the workspace's user on a (simulated) host without user namespaces."""
    user = workspace.user
    return [sys.executable, "-c", NO_USER_NAMESPACES, str(user.pw_uid), str(user.pw_gid), *argv]


def has_v1_cgroups() -> bool:
    return all((CGROUP_ROOT / c / "cgroup.procs").exists() for c in V1_CONTROLLERS)


@contextmanager
def delegated_v1_cgroup(workspace: Workspace) -> Iterator[str]:
    """A folder in each v1 hierarchy lamina uses, given to the workspace's user, as root
    would delegate one; yields its cgroup path (for ``--cgroup-parent``), removed after."""
    parent = f"/lamina-rootless-{uuid.uuid4().hex[:8]}"
    folders = [CGROUP_ROOT / c / parent.lstrip("/") for c in V1_CONTROLLERS]
    try:
        for folder in folders:
            folder.mkdir()
            for path in [folder, *folder.iterdir()]:
                os.chown(path, workspace.user.pw_uid, workspace.user.pw_gid)
        yield parent
    finally:
        for folder in folders:
            with contextlib.suppress(OSError):
                for child in [p for p in folder.iterdir() if p.is_dir()]:
                    child.rmdir()
            with contextlib.suppress(OSError):
                folder.rmdir()
