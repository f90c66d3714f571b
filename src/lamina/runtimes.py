"""Which AWS runtime identifiers this host can run, and with which interpreter.

Discovery looks at files, so ``lamina serve`` stays fast to start. Sources, first match wins:
a ``LAMINA_RUNTIME_<ID>`` override, the ``PATH`` (pyenv shims skipped: they are shell scripts
that cost tens of milliseconds per start), pyenv's versions folder, and the usual system
folders. Python interpreters are named by their version (``python3.12``); a ``node`` binary's
major version is read from the ``include/node/node_version.h`` installed beside it, and only
when that header is missing is the binary asked (``node --version``, once per binary).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PYTHON_RUNTIMES = ("python3.9", "python3.10", "python3.11", "python3.12", "python3.13")
"""The Python runtimes lamina manages, by AWS identifier."""

NODE_RUNTIMES = ("nodejs18.x", "nodejs20.x", "nodejs22.x")
"""The Node.js runtimes lamina manages: each runs on a ``node`` of the same major version."""

DEPRECATED_RUNTIMES = frozenset(
    {
        "python2.7", "python3.6", "python3.7", "python3.8",
        "nodejs", "nodejs4.3", "nodejs4.3-edge", "nodejs6.10", "nodejs8.10", "nodejs10.x",
        "nodejs12.x", "nodejs14.x", "nodejs16.x",
        "java8", "dotnetcore1.0", "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1", "dotnet6",
        "go1.x", "ruby2.5", "ruby2.7", "provided",
    }
)  # fmt: skip
"""Runtimes AWS no longer accepts for creating or updating functions."""

KNOWN_RUNTIMES = (
    "nodejs", "nodejs4.3", "nodejs6.10", "nodejs8.10", "nodejs10.x", "nodejs12.x", "nodejs14.x",
    "nodejs16.x", "nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x", "java8", "java8.al2",
    "java11", "java17", "java21", "java25", "python2.7", "python3.6", "python3.7", "python3.8",
    "python3.9", "python3.10", "python3.11", "python3.12", "python3.13", "python3.14",
    "dotnetcore1.0", "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1", "dotnet6", "dotnet8",
    "dotnet10", "nodejs4.3-edge", "go1.x", "ruby2.5", "ruby2.7", "ruby3.2", "ruby3.3", "ruby3.4",
    "ruby4.0", "provided", "provided.al2", "provided.al2023", "nodejs26.x", "python3.15",
    "java8.al2023", "java11.al2023", "java17.al2023", "custom",
)  # fmt: skip
"""botocore's ``Runtime`` enum, in its order: the set AWS validates against."""

CUSTOM_RUNTIMES = ("provided.al2023", "provided.al2")
"""Custom runtimes: the function brings its own ``bootstrap`` (the Runtime API serves it); the
host's base system (its ``/usr``) stands in for Amazon Linux."""

_SYSTEM_DIRS = ("/usr/local/bin", "/usr/bin", "/bin")


@dataclass(frozen=True)
class Runtime:
    """One runnable runtime: its AWS identifier and the interpreter that runs it."""

    identifier: str
    interpreter: Path

    @property
    def family(self) -> str:
        return re.sub(r"[\d.]+.*$", "", self.identifier)

    @property
    def version_digest(self) -> str:
        """Stands in for AWS's runtime version hash in RuntimeVersionArn."""
        return hashlib.sha256(f"{self.identifier}:{self.interpreter}".encode()).hexdigest()


class RuntimeCatalog:
    """The runtimes found on this host, by AWS identifier."""

    def __init__(self, runtimes: Iterable[Runtime]) -> None:
        self._runtimes = {r.identifier: r for r in runtimes}

    def get(self, identifier: str) -> Runtime | None:
        return self._runtimes.get(identifier)

    def available(self) -> list[str]:
        return [r for r in KNOWN_RUNTIMES if r in self._runtimes]

    def __contains__(self, identifier: object) -> bool:
        return identifier in self._runtimes


def discover(
    overrides: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None
) -> RuntimeCatalog:
    """Find an interpreter for every managed runtime this host can run."""
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    found: list[Runtime] = []
    for identifier in PYTHON_RUNTIMES:
        path = _python_interpreter(identifier, overrides, environ)
        if path is not None:
            found.append(Runtime(identifier, path))
    nodes = _NodeFinder(environ)
    for identifier in NODE_RUNTIMES:
        path = nodes.find(identifier, overrides)
        if path is not None:
            found.append(Runtime(identifier, path))
    shell = Path("/bin/sh")
    if _is_executable(shell):  # what a bootstrap script needs of the base system
        found += [Runtime(identifier, shell.resolve()) for identifier in CUSTOM_RUNTIMES]
    return RuntimeCatalog(found)


def _python_interpreter(
    identifier: str, overrides: Mapping[str, str], environ: Mapping[str, str]
) -> Path | None:
    if identifier in overrides:
        pinned = Path(overrides[identifier])
        return pinned if _is_executable(pinned) else None
    exe = identifier  # python3.12 is both the AWS id and the binary's name
    for directory in _path_dirs(environ):
        if _is_executable(directory / exe):
            return (directory / exe).resolve()
    pyenv = _pyenv_interpreter(identifier, environ)
    if pyenv is not None:
        return pyenv
    for system_dir in _SYSTEM_DIRS:
        if _is_executable(Path(system_dir) / exe):
            return (Path(system_dir) / exe).resolve()
    return None


def _path_dirs(environ: Mapping[str, str]) -> list[Path]:
    return [
        Path(d)
        for d in environ.get("PATH", "").split(os.pathsep)
        if d and "shims" not in d.split("/")
    ]


def _pyenv_interpreter(identifier: str, environ: Mapping[str, str]) -> Path | None:
    root = Path(environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    minor = identifier.removeprefix("python")
    try:
        candidates = [
            p for p in root.iterdir() if re.fullmatch(re.escape(minor) + r"\.\d+", p.name)
        ]
    except OSError:
        return None
    candidates.sort(key=lambda p: int(p.name.rsplit(".", 1)[1]), reverse=True)
    for version_dir in candidates:
        exe = version_dir / "bin" / identifier
        if _is_executable(exe):
            return exe.resolve()
    return None


def _is_executable(path: Path) -> bool:
    try:  # a folder on PATH this user may not enter (another user's home) is no match
        return path.is_file() and os.access(path, os.X_OK)
    except OSError:
        return False


class _NodeFinder:
    """Finds a ``node`` of each major version; every binary's version is learnt once."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self._majors: dict[Path, int | None] = {}

    def find(self, identifier: str, overrides: Mapping[str, str]) -> Path | None:
        if identifier in overrides:
            pinned = Path(overrides[identifier])
            return pinned if _is_executable(pinned) else None
        major = int(identifier.removeprefix("nodejs").removesuffix(".x"))
        dirs = [*_path_dirs(self.environ), *map(Path, _SYSTEM_DIRS)]
        for directory in dirs:  # binaries named by their version: node22, nodejs22
            for name in (f"node{major}", f"nodejs{major}"):
                if _is_executable(directory / name):
                    return (directory / name).resolve()
        nvm = _nvm_node(major, self.environ)
        if nvm is not None:
            return nvm
        for directory in dirs:
            for name in ("node", "nodejs"):
                path = directory / name
                if _is_executable(path) and self.major(path.resolve()) == major:
                    return path.resolve()
        return None

    def major(self, path: Path) -> int | None:
        if path not in self._majors:
            self._majors[path] = _header_major(path) or _asked_major(path)
        return self._majors[path]


def _nvm_node(major: int, environ: Mapping[str, str]) -> Path | None:
    root = Path(environ.get("NVM_DIR") or Path.home() / ".nvm") / "versions" / "node"
    try:
        versions = [p for p in root.iterdir() if re.fullmatch(rf"v{major}\.\d+\.\d+", p.name)]
    except OSError:
        return None
    versions.sort(key=lambda p: tuple(int(n) for n in p.name[1:].split(".")), reverse=True)
    for version_dir in versions:
        exe = version_dir / "bin" / "node"
        if _is_executable(exe):
            return exe.resolve()
    return None


def _header_major(node: Path) -> int | None:
    """The major version in the headers installed with ``node`` (``<prefix>/include/node``)."""
    header = node.parent.parent / "include" / "node" / "node_version.h"
    try:
        text = header.read_text(errors="replace")
    except OSError:
        return None
    found = re.search(r"^#define NODE_MAJOR_VERSION (\d+)", text, re.MULTILINE)
    return int(found.group(1)) if found else None


def _asked_major(node: Path) -> int | None:
    try:
        answer = subprocess.run(
            [str(node), "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.fullmatch(r"v(\d+)\.\d+\.\d+\S*\s*", answer)
    return int(found.group(1)) if found else None
