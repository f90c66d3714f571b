"""The Linux system calls the sandbox needs and Python's ``os`` module lacks, through libc.

Every wrapper raises OSError with the failing call and path in the message, so a sandbox that
cannot be built says exactly which step failed (as Firecracker's jailer does).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import Any

F_SETPIPE_SZ = 1031
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACE_FLAGS = (
    CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET
)
ENVIRONMENT_NAMESPACES = NAMESPACE_FLAGS & ~CLONE_NEWUSER
"""The namespaces every environment gets (a user namespace too only in rootless mode)."""

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2
_LOCKABLE = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
"""Mount flags with the same values in ``statvfs``'s ``f_flag`` (ST_RDONLY, ST_NOSUID…)."""

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_GET_SECCOMP = 21
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_MODE_FILTER = 2

SYS_PIVOT_ROOT = 155
SYS_PIDFD_SEND_SIGNAL = 424

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.prctl.argtypes = [
    ctypes.c_int,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
]
_libc.syscall.restype = ctypes.c_long


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


def _b(path: str | None) -> bytes | None:
    return None if path is None else os.fsencode(path)


def mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    _check(
        _libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)),
        f"mount {source or fstype} on {target}",
    )


def bind(
    source: str,
    target: str,
    *,
    writable: bool = False,
    flags: int = MS_NOSUID | MS_NODEV,
    keep_locked: bool = False,
) -> None:
    """Bind-mount ``source`` on ``target``, read-only unless ``writable``.

    ``keep_locked``: also keep the read-only, nosuid, nodev and noexec flags the source's
    mount has; in a mount namespace owned by a user namespace the kernel refuses to clear
    them (they are locked), so a remount must repeat them.
    """
    mount(source, target, None, MS_BIND | MS_REC)
    remount = MS_REMOUNT | MS_BIND | flags | (0 if writable else MS_RDONLY)
    if keep_locked:
        remount |= os.statvfs(target).f_flag & _LOCKABLE
    mount(None, target, None, remount)


def umount2(target: str, flags: int) -> None:
    _check(_libc.umount2(_b(target), flags), f"umount {target}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), f"unshare {flags:#x}")


def setns(fd: int, kind: int) -> None:
    """Move the calling thread into the namespace ``fd`` refers to."""
    _check(_libc.setns(fd, kind), f"setns {kind:#x}")


def pivot_root(new_root: str, put_old: str) -> None:
    _check(
        _libc.syscall(SYS_PIVOT_ROOT, _b(new_root), _b(put_old)),
        f"pivot_root {new_root} {put_old}",
    )


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(_libc.prctl(option, arg2, arg3, arg4, arg5), f"prctl {option}")


def prctl_pointer(option: int, arg2: int, pointer: Any) -> int:
    """prctl with a pointer as its third argument (PR_SET_SECCOMP)."""
    function = _libc.prctl
    result = function(option, arg2, ctypes.cast(pointer, ctypes.c_void_p).value or 0, 0, 0)
    return _check(result, f"prctl {option}")


def pidfd_send_signal(pidfd: int, signal: int) -> None:
    _check(_libc.syscall(SYS_PIDFD_SEND_SIGNAL, pidfd, signal, None, 0), "pidfd_send_signal")


def last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return 40


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


_CAPABILITY_VERSION_3 = 0x20080522


def clear_capabilities() -> None:
    """Empty the calling thread's effective, permitted and inheritable sets (capset(2)):
    what changing from uid 0 to another does, for a process whose uid does not change."""
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()  # version 3: two 32-bit halves of each set
    _check(_libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset (clear capabilities)")


def drop_capability_bounding_set() -> None:
    """Remove every capability from the bounding set, so nothing exec'd can regain one."""
    for capability in range(last_capability() + 1):
        prctl(PR_CAPBSET_DROP, capability)
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
