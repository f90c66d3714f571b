"""Whether a server that is not root can build rootless sandboxes here, and if not, why.

The probe does, in throw-away processes, what the jailer does for every environment: a user
namespace owning new mount, UTS, IPC, PID, network and cgroup namespaces with a single-id map,
a process that is PID 1 there, a tmpfs root with a read-only bind, bound device nodes and its
own ``/proc``, capabilities dropped and the seccomp filter loaded. The first step that fails is
reported with the system settings known to forbid it (a Debian or Ubuntu kernel's
``kernel.unprivileged_userns_clone``, ``user.max_user_namespaces``, Ubuntu's AppArmor
restriction of unprivileged user namespaces).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import NoReturn

from lamina.sandbox import linux, rootfs, seccomp, userns
from lamina.sandbox.namespace import SANDBOX_GID, SANDBOX_UID

_FLAGS = linux.ENVIRONMENT_NAMESPACES
SYSCTLS = {
    "kernel.unprivileged_userns_clone": "/proc/sys/kernel/unprivileged_userns_clone",
    "user.max_user_namespaces": "/proc/sys/user/max_user_namespaces",
    "kernel.apparmor_restrict_unprivileged_userns": (
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"
    ),
}


def problem(root_mount: Path) -> str | None:
    """None when rootless sandboxes work here, else what failed and the likely cause."""
    root_mount.mkdir(parents=True, exist_ok=True)
    failure = _run_probe(str(root_mount))
    if failure is None:
        return None
    step, code, message = failure
    covered = _covered_proc_paths() if "mount proc" in message else []
    reasons = causes(step, code, read_sysctls(), covered)
    why = "".join(f"; {reason}" for reason in reasons)
    return (
        f"lamina is not root (uid {os.geteuid()}), so each environment needs a user namespace "
        f"of its own, but {message}{why}"
    )


def causes(
    step: str, code: int, sysctls: dict[str, str], covered_proc: list[str] | None = None
) -> list[str]:
    """The settings that explain a failed ``step`` (``unshare`` or ``build``);
    ``covered_proc``: paths mounted over the host's /proc, when mounting a /proc failed."""
    found = []
    if covered_proc:
        found.append(_PROC_COVERED.format(", ".join(covered_proc[:3])))
    if sysctls.get("kernel.unprivileged_userns_clone") == "0":
        found.append(
            "kernel.unprivileged_userns_clone is 0: this kernel lets only root create user "
            "namespaces (sysctl -w kernel.unprivileged_userns_clone=1 allows it)"
        )
    if sysctls.get("user.max_user_namespaces") == "0":
        found.append(
            "user.max_user_namespaces is 0: no user namespace may be created "
            "(sysctl -w user.max_user_namespaces=15000 allows them)"
        )
    elif step == "unshare" and code == errno.ENOSPC:
        found.append(
            f"the limit of user namespaces (user.max_user_namespaces = "
            f"{sysctls.get('user.max_user_namespaces', '?')}) is reached"
        )
    if sysctls.get("kernel.apparmor_restrict_unprivileged_userns") == "1":
        found.append(
            "kernel.apparmor_restrict_unprivileged_userns is 1: AppArmor gives a user "
            "namespace no capabilities unless the program's profile allows 'userns' (give "
            "lamina's interpreter such a profile, or set the sysctl to 0)"
        )
    if not found and code == errno.EPERM:
        found.append("the kernel or a security module (SELinux, AppArmor, seccomp) refuses it")
    return found


_PROC_COVERED = (
    "the host's /proc has paths mounted over it ({}), as in a container: the kernel lets a "
    "user namespace mount a /proc of its own only where the host's is fully visible"
)


def _covered_proc_paths() -> list[str]:
    """Mount points inside /proc (a container runtime's masks), from /proc/self/mountinfo."""
    try:
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f]
    except OSError:
        return []
    return [p for p in points if p.startswith("/proc/") and "binfmt_misc" not in p]


def read_sysctls() -> dict[str, str]:
    values = {}
    for name, path in SYSCTLS.items():
        try:
            with open(path) as f:
                values[name] = f.read().strip()
        except OSError:
            continue
    return values


def notes() -> list[str]:
    """What start-up says about rootless mode, besides any problem."""
    said = [
        f"rootless: lamina runs as uid {os.geteuid()}; each environment gets a user namespace "
        f"of its own in which its sandbox user {SANDBOX_UID} is uid {os.geteuid()} outside, "
        "and the same mount, PID, IPC, UTS, network and cgroup namespaces, read-only root, "
        "dropped capabilities, no_new_privs and seccomp filter as in root mode",
    ]
    groups = sorted(set(os.getgroups()) - {os.getegid()})
    if groups:
        said.append(
            f"rootless: the server's supplementary groups {groups} stay with every environment "
            "(a process that is not root cannot shed them); run lamina as a user without any"
        )
    return said


def _run_probe(root_mount: str) -> tuple[str, int, str] | None:
    """(step, errno, message) of the first failure, or None when every step worked."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _probe(write_end, root_mount)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        report = reader.read().decode(errors="replace")
    os.waitpid(pid, 0)
    if report == "ok":
        return None
    step, code, message = [*report.split("\0", 2), "", ""][:3]
    return step or "build", int(code or 0), message or "the probe died without saying why"


def _probe(report: int, root_mount: str) -> NoReturn:
    """In the forked child: enter the namespaces, then build a root in a PID-1 grandchild."""
    step = "unshare"
    try:
        userns.enter(_FLAGS, SANDBOX_UID, SANDBOX_GID)
        step = "build"
        pid = os.fork()
        if pid == 0:
            _build(report, root_mount)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            os._exit(1)  # the grandchild wrote why
    except OSError as exc:
        _say(report, step, exc)
        os._exit(1)
    os.write(report, b"ok")
    os._exit(0)


def _build(report: int, root_mount: str) -> NoReturn:
    steps: list[rootfs.Step] = [
        {"op": "bind", "source": "/usr", "target": "/usr"},
        {"op": "tmpfs", "target": "/tmp", "size_mb": 1, "mode": "1777"},
        {"op": "dev"},
        {"op": "proc"},
    ]
    try:
        rootfs.apply(steps, root_mount, rootless=True)
        userns.drop_privileges()
        if seccomp.available() is None:
            seccomp.install()
    except OSError as exc:
        _say(report, "build", exc)
        os._exit(1)
    os._exit(0)


def _say(report: int, step: str, exc: OSError) -> None:
    what = "it cannot create one" if step == "unshare" else "it cannot build a sandbox in one"
    message = f"{what} ({exc.strerror or exc})"
    os.write(report, f"{step}\0{exc.errno or 0}\0{message}".encode(errors="replace"))
