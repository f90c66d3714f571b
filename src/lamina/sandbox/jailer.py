"""The jailer: a small, single-threaded root process that turns requests into sandboxes.

The server cannot safely fork itself (it runs threads), so it starts this process once and
sends it one request per environment over a SOCK_SEQPACKET socket: the word ``spawn`` with the
environment's descriptors attached (control socket, output pipe, status pipe, a pipe from
which the environment's specification is read, one on which its setup reports, and, in the
``egress`` network, the network namespace made for it ahead of time). For each request:

1. the jailer forks an *intermediate* process, which reads the specification (only this child
   ever holds it, so a zygote — see ``zygote.py`` — never keeps one function's settings for
   the next), joins the environment's cgroups, joins its network namespace (``egress``) or
   makes a new one (``none``), and unshares the mount, UTS, IPC, cgroup and PID namespaces;
2. the intermediate forks **init**, PID 1 of the new PID namespace, reports init's pid on the
   report pipe — straight to the server: the jailer answered as soon as it had forked, and
   serves the next request while this one's cgroups and namespaces are being made — and exits
   (the jailer ignores SIGCHLD, so the kernel reaps what it leaves);
3. init builds the root file system (``rootfs.apply``), brings up loopback, and forks the
   **runtime**, which moves the descriptors in place, drops every capability, takes the
   sandbox user's ids, loads the seccomp filter and executes the interpreter (or, in a zygote,
   runs the pre-loaded runtime in place);
4. init reaps every process of the namespace and, when the runtime ends, writes its wait
   status to the status pipe and exits: the kernel then kills whatever is left in the
   namespace. A failed step writes ``E<step: reason>`` there instead.

The jailer dies with the server (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import signal
import socket
import stat
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from lamina.sandbox import cgroups, linux, rootfs, seccomp, userns

JAILER_FD_VARIABLE = "_LAMINA_JAILER_FD"
CONTROL_FD = 3
MAX_SPEC_BYTES = 1 << 20
SPAWN = b"spawn"
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


RuntimeEntry = Callable[[dict[str, Any]], NoReturn]
run_in_place: RuntimeEntry | None = None
"""Set by a zygote: runs its pre-loaded runtime in the runtime process instead of an exec."""


def main() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    sock = socket.socket(fileno=int(os.environ.pop(JAILER_FD_VARIABLE)))
    sock.setblocking(True)  # whatever mode the descriptor was created in
    while True:
        try:
            message, fds, _flags, _addr = socket.recv_fds(sock, 64, 8)
        except ConnectionError:
            return
        if not message:
            return
        try:
            if message != SPAWN or len(fds) not in (5, 6):
                raise OSError("malformed request")
            reply: dict[str, Any] = {"forked": spawn(fds, sock.fileno())}
        except Exception as exc:
            reply = {"error": str(exc)}
        finally:
            for fd in fds:
                os.close(fd)
        sock.send(json.dumps(reply).encode())


def spawn(fds: list[int], own_fd: int) -> int:
    """Start making one sandbox; the pid of the intermediate process. ``fds``: control,
    output, status, spec, report and, optionally, the network namespace to join; ``own_fd``
    (the helper's socket) is closed in the child."""
    report = fds[4]
    netns = fds[5] if len(fds) > 5 else None
    pid = os.fork()
    if pid == 0:
        os.close(own_fd)
        _guard(report, lambda: _intermediate(_read_spec(fds[3]), fds[:3], report, netns))
    return pid


def read_report(data: bytes) -> int:
    """Used by the server: init's host pid from what the report pipe carried until its end."""
    answer = data.decode(errors="replace")
    if answer.startswith("P"):
        return int(answer[1:])
    raise OSError(answer[1:] or "the sandbox's setup process died")


def _read_spec(fd: int) -> dict[str, Any]:
    """The environment's specification, written whole by the server before it asked."""
    chunks = []
    size = 0
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_SPEC_BYTES:
            raise OSError("the specification is too large")
    os.close(fd)
    spec = json.loads(b"".join(chunks))
    if not isinstance(spec, dict):
        raise OSError("malformed specification")
    return spec


def write_spec(spec: dict[str, Any]) -> int:
    """Used by the server: a pipe holding ``spec``; returns its read end."""
    data = json.dumps(spec).encode()
    read_end, write_end = os.pipe()
    try:
        if len(data) > 65536:
            fcntl.fcntl(write_end, linux.F_SETPIPE_SZ, min(len(data), MAX_SPEC_BYTES))
        os.write(write_end, data)  # the pipe holds it all: nothing reads before we ask
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    return read_end


def _guard(report_fd: int, step: Any) -> NoReturn:
    """Run a child's work; any failure is written to ``report_fd`` as ``E<reason>``."""
    try:
        step()
    except BaseException as exc:
        os.write(report_fd, b"E" + str(exc).encode(errors="replace")[:4000])
    os._exit(1)


def _intermediate(
    request: dict[str, Any], fds: list[int], report_fd: int, netns: int | None = None
) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    group = cgroups.EnvironmentCgroup(
        {k: Path(v) for k, v in request["cgroup"]["paths"].items()}, request["cgroup"]["v2"]
    )
    group.make(cgroups.Limits(**request["cgroup"]["limits"]))
    group.attach(os.getpid())
    flags = (
        linux.CLONE_NEWNS
        | linux.CLONE_NEWUTS
        | linux.CLONE_NEWIPC
        | linux.CLONE_NEWPID
        | linux.CLONE_NEWCGROUP
    )
    if netns is not None:
        linux.setns(netns, linux.CLONE_NEWNET)
        os.close(netns)
    elif request.get("network") != "host":
        flags |= linux.CLONE_NEWNET
    if request.get("userns"):
        _enter_user_namespace(request, flags)
    else:
        linux.unshare(flags)
    pid = os.fork()
    if pid == 0:
        os.close(report_fd)
        _guard(fds[2], lambda: _init(request, fds))
    os.write(report_fd, b"P%d" % pid)
    os._exit(0)


def _enter_user_namespace(request: dict[str, Any], flags: int) -> None:
    """Rootless mode (``userns.py``): the namespaces belong to a user namespace of their own,
    whose process count stands in for a pids cgroup when there is none."""
    userns.enter(flags, request["uid"], request["gid"])
    nproc = request["userns"].get("nproc")
    if nproc:
        userns.limit_processes(int(nproc))


def _init(request: dict[str, Any], fds: list[int]) -> NoReturn:
    control, output, status = fds
    rootfs.apply(request["steps"], request["root_mount"], rootless=bool(request.get("userns")))
    if request.get("userns"):
        userns.forbid_nested_user_namespaces()
    socket.sethostname(request.get("hostname", "localhost"))
    if request.get("network") != "host":
        _loopback_up()
    watched: int | None = None
    relay, gate = -1, -1
    if request.get("runtime_api") is not None or request.get("extensions") is not None:
        # The runtime reaches the host only through the relay (Runtime and Extensions API).
        relay, control, gate = _start_relay(request, control, output, status)
        if gate == _NO_START:
            watched = relay  # nothing to run: the relay reports why, then the host ends it
    if watched is None:
        watched = os.fork()
        if watched == 0:
            _guard(status, lambda: _start_runtime(request, control, output))
        if gate >= 0:
            os.write(gate, b"%d\n" % watched)  # the relay signals it at shutdown
    if control >= 0:
        os.close(control)
    os.close(output)
    _drop_privileges(request)
    _reap_until(watched, status, gate if gate >= 0 else None, relay)


_NO_START = -2


def _start_relay(
    request: dict[str, Any], control: int, output: int, status: int
) -> tuple[int, int, int]:
    """Fork the relay (``runtime_api.py``); (its pid, the runtime's control descriptor or -1,
    the gate: -1 without extensions, ``_NO_START`` when the runtime must not start).

    For a custom runtime, picks its entry point (the first of the request's that exists), so
    a missing or unusable ``bootstrap`` is reported as AWS does, as the environment's init
    error. A managed runtime keeps speaking frames, to the relay: a socketpair replaces its
    control socket. With extensions, a second socketpair, the *gate*, joins init and the
    relay: the runtime starts once the relay says every extension registered (``1``), not at
    all if one failed; init tells the relay the runtime's pid; at shutdown the relay says
    ``S`` before it sends the runtime SIGTERM, so that init outlives the runtime until the
    extensions have had their SHUTDOWN.
    """
    api = request.get("runtime_api")
    extensions = request.get("extensions")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int((api or extensions or {}).get("port", 0))))
    listener.listen(16)
    request["env"]["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{listener.getsockname()[1]}"
    init_error = None
    if api is not None:
        entrypoint, init_error = _entrypoint(api["entrypoints"])
        if entrypoint is not None:
            request["argv"] = [entrypoint, *request["argv"][1:]]
    runtime_end, bridge_end = -1, -1
    if api is None:
        ends = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        runtime_end, bridge_end = ends[0].detach(), ends[1].detach()
    gate, relay_gate = -1, -1
    if extensions is not None:
        pair = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        gate, relay_gate = pair[0].detach(), pair[1].detach()
    pid = os.fork()
    if pid == 0:
        relay_fds = (control, bridge_end, relay_gate)
        _guard(status, lambda: _run_relay(request, relay_fds, output, listener, init_error))
    listener.close()
    for fd in (control, bridge_end, relay_gate):
        if fd >= 0:
            os.close(fd)
    if init_error is not None or (gate >= 0 and os.read(gate, 1) != b"1"):
        return pid, runtime_end, _NO_START
    return pid, runtime_end, gate


def _entrypoint(candidates: list[str]) -> tuple[str | None, bytes | None]:
    """The executable to run, or the init error document AWS gives when there is none."""
    for path in candidates:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            continue
        if not stat.S_ISREG(mode) or not mode & 0o001:  # the sandbox user is "others"
            message = f"Couldn't find valid bootstrap(s): {path}: permission denied"
            return None, _init_error_document(message)
        return path, None
    message = "Couldn't find valid bootstrap(s): [{}]".format(" ".join(candidates))
    return None, _init_error_document(message)


def _init_error_document(message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": "Runtime.InvalidEntrypoint"}).encode()


def _run_relay(
    request: dict[str, Any],
    fds: tuple[int, int, int],
    output: int,
    listener: socket.socket,
    init_error: bytes | None,
) -> None:
    """``fds``: the host's control socket, the managed runtime's (or -1), the gate (or -1)."""
    from lamina.sandbox import runtime_api

    control, runtime_fd, gate = fds
    keep = tuple(fd for fd in (*fds, listener.fileno()) if fd >= 0)
    _prepare_process(request, output, keep=keep)
    extensions = None
    if request.get("extensions") is not None:
        extensions = {
            "dir": request["extensions"]["dir"],
            "env": request["env"],
            "cwd": request["cwd"],
            "gate_fd": gate,
            "runtime_fd": runtime_fd if runtime_fd >= 0 else None,
        }
    runtime_api.serve(control, listener, init_error, extensions)


def _reap_until(runtime: int, status_fd: int, gate: int | None = None, relay: int = -1) -> NoReturn:
    """Reap every process of the namespace; when the runtime ends, report it and leave —
    unless the relay is shutting the extensions down (``gate``): then when the relay ends."""
    ended: int | None = None
    while True:
        try:
            pid, wait_status = os.waitpid(-1, 0)
        except ChildProcessError:
            if ended is None:
                os._exit(0)
            pid, wait_status = relay, 0  # nothing left: report what the runtime did
        if pid == runtime and ended is None:
            ended = os.waitstatus_to_exitcode(wait_status)
            if not _shutting_down(gate):
                pid = relay
        if ended is not None and pid == relay:
            os.write(status_fd, b"S" + struct.pack("<i", ended))
            os._exit(0)


def _shutting_down(gate: int | None) -> bool:
    """Whether the relay said ``S`` on the gate (it does so before signalling the runtime)."""
    if gate is None:
        return False
    os.set_blocking(gate, False)
    try:
        return b"S" in os.read(gate, 64)
    except OSError:
        return False


def _start_runtime(request: dict[str, Any], control: int, output: int) -> None:
    """In the runtime process: ``control`` is -1 when it talks to the Runtime API instead."""
    if control >= 0:
        os.dup2(control, CONTROL_FD)
        control = CONTROL_FD
    _prepare_process(request, output, keep=(control,) if control >= 0 else ())
    if request.get("in_place") and run_in_place is not None:
        # What an exec would do: changing ids left the process undumpable (its /proc files
        # owned by root, unreadable to itself); the new ids are the only ones it ever had.
        linux.prctl(linux.PR_SET_DUMPABLE, 1)
        run_in_place(request)
    os.execve(request["argv"][0], request["argv"], request["env"])


def _prepare_process(request: dict[str, Any], output: int, keep: tuple[int, ...]) -> None:
    """What every process of the environment's own gets before it runs anything: default
    signals, /dev/null in, the output pipe out, no other descriptor than ``keep``, the
    environment's limits, the sandbox user without capabilities, the seccomp filter."""
    for number in (signal.SIGPIPE, signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, _max_fd())
    for limit, value in ((resource.RLIMIT_NOFILE, 1024), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(limit, (value, value))
    os.chdir(request["cwd"])
    _drop_privileges(request)
    if request.get("seccomp", True):
        seccomp.install()


def _drop_privileges(request: dict[str, Any]) -> None:
    if request.get("userns"):
        userns.drop_privileges()  # the ids are already the sandbox's: shed the capabilities
        return
    uid, gid = request["uid"], request["gid"]
    linux.drop_capability_bounding_set()
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))


def _max_fd() -> int:
    return int(resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def send_request(sock: socket.socket, fds: list[int]) -> None:
    """Used by the server: ask for one sandbox; ``fds`` end with ``write_spec``'s pipe."""
    socket.send_fds(sock, [SPAWN], fds)


if __name__ == "__main__":
    main()
    sys.exit(0)
