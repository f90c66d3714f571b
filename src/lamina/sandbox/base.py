"""The sandbox interface: what the pool needs from any mechanism that runs an environment.

A backend turns a SandboxSpec into a running Sandbox: a process tree started with the given
command, environment and working folder, holding the child end of a control socket and writing
its standard output and error to a pipe. The pool only ever talks to the control socket, reads
the output pipe, waits for the exit and destroys the sandbox; how isolation is achieved
(a plain process, namespaces and cgroups, …) stays inside the backend.

The host folders an environment needs (``Mounts``) may appear elsewhere inside it: the backend's
``view`` says where, so the launcher can point the runtime at the right paths.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Mounts:
    """Host folders an environment is built from."""

    interpreter: Path
    task_root: Path
    runtime_dir: Path
    sdk_dir: Path | None = None
    pycache_dir: Path | None = None
    """Writable by the environment: bytecode compiled from its code."""
    opt_dir: Path | None = None
    """The function's layers, merged: what it sees as /opt."""


@dataclass(frozen=True)
class View:
    """Where the environment sees each of its Mounts."""

    interpreter: str
    task_root: str
    runtime_dir: str
    sdk_dir: str | None
    pycache_dir: str | None
    opt_dir: str
    """Where the layers are (AWS: /opt)."""


@dataclass(frozen=True)
class SandboxSpec:
    environment_id: str
    argv: tuple[str, ...]
    """The command, with paths as the environment sees them."""
    env: Mapping[str, str]
    cwd: str
    mounts: Mounts
    memory_mb: int
    ephemeral_storage_mb: int
    preloadable: bool = False
    """``argv`` is ``interpreter -s <runtime_dir>/python/bootstrap.py …``, lamina's managed
    Python runtime, which a backend may run from a pre-initialised zygote of that interpreter
    instead of executing it."""
    runtime_api: bool = False
    """The runtime talks to the Lambda Runtime API (``AWS_LAMBDA_RUNTIME_API``) instead of
    the control socket: the backend serves that API and relays it to the control socket."""
    entrypoints: tuple[str, ...] = ()
    """With ``runtime_api``: the first of these paths that exists replaces ``argv[0]``."""
    extensions_dir: str | None = None
    """Where the environment sees ``/opt/extensions``, when the function's layers bring
    external extensions: the backend starts them before the runtime and serves them the
    Extensions API (``extensions_api.py``). None (the usual case) costs nothing."""
    cpu_mb: int | None = None
    """The memory size whose CPU share the environment gets after its init, when not
    ``memory_mb``'s (a SnapStart template: at least one vCPU, so that bursts of restores,
    each a fork the template pays for, are not throttled)."""
    control_fd_variable: str = "_LAMINA_CONTROL_FD"
    """The child finds the descriptor of its end of the control socket in this variable."""


class Sandbox(Protocol):
    id: str
    pid: int
    control: socket.socket
    """The host's end of the control socket, non-blocking."""
    output_fd: int
    """Read end of the pipe carrying the environment's stdout and stderr, non-blocking."""
    exited: asyncio.Future[int]
    """Resolves to the exit status (negative: killed by that signal) once the process is gone."""
    setup_error: str | None
    """Why the sandbox could not be built, when it ended before running anything."""

    def kill(self) -> None:
        """Kill every process of the sandbox at once. Safe to call at any time, and twice."""

    def init_done(self) -> None:
        """The runtime finished its init: apply what spares the init phase (AWS lets init
        use more CPU than the function's share)."""

    def freeze(self) -> None:
        """Stop every process of the sandbox from running (idle environments use no CPU)."""

    def thaw(self) -> None:
        """Let a frozen sandbox run again. Safe to call when it is not frozen."""

    def out_of_memory(self) -> bool:
        """Whether the kernel killed a process of the sandbox for exceeding its memory."""

    def peak_memory_mb(self) -> int:
        """The most memory the whole sandbox has used, or 0 when the backend cannot tell."""

    async def destroy(self) -> None:
        """Kill, wait for the exit, and free every resource (descriptors, cgroups, files).

        Safe to call twice; the second call does nothing.
        """


class SandboxBackend(Protocol):
    name: str
    snapshots: bool
    """Whether ``restore`` works: SnapStart versions then fork from their template."""

    def view(self, mounts: Mounts) -> View:
        """Where an environment of this backend sees the given host folders."""

    async def create(self, spec: SandboxSpec) -> Sandbox:
        """Start a sandbox; SandboxError names the step that failed."""

    async def restore(self, template: Sandbox, environment_id: str, memory_mb: int) -> Sandbox:
        """A new sandbox forked from ``template``, a SnapStart template's sandbox of this
        backend, with its own cgroup of ``memory_mb``; SandboxError when it cannot be made
        (the template is gone, say). Destroying it leaves the template and its other
        children running."""

    def prestart(self, interpreter: Path, runtime_dir: Path) -> None:
        """Get ready for Python environments of this interpreter (start its zygote now, so
        the first cold start does not wait for it)."""

    async def close(self) -> None:
        """Release what the backend holds for all sandboxes (helper processes, pools)."""
