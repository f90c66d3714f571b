"""The system-call filter of every execution environment, as a classic BPF program.

A function never needs to administer the machine, so these calls answer EPERM: mounting and
pivoting, new namespaces (``unshare``, ``setns``, ``clone`` with any CLONE_NEW* flag — user
namespaces above all, the usual door to kernel attack surface), ptrace and cross-process memory
access, kernel modules, kexec, bpf, perf events, keyrings, reboot, swap, clocks, accounting,
raw IP and packet sockets. ``clone3`` answers ENOSYS, because its flags sit in memory a filter
cannot read; C libraries then fall back to ``clone``, whose flags it can check. Calls of another
architecture are refused outright (no x32 or 32-bit ABI detours). Everything else is allowed.

Only x86_64 has a table here; elsewhere ``available()`` says so and the sandbox reports it.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

from lamina.sandbox import linux

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000

_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_AND_K = 0x54
_RET_K = 0x06

RET_ALLOW = 0x7FFF0000
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000

_NR = 0
_ARCH = 4


def _arg(index: int) -> int:
    return 16 + 8 * index  # low 32 bits of args[index] on a little-endian machine


DENIED_X86_64 = {
    "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161,
    "move_mount": 429, "open_tree": 428, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "mount_setattr": 442,
    "unshare": 272, "setns": 308,
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312,
    "init_module": 175, "finit_module": 313, "delete_module": 176, "create_module": 174,
    "kexec_load": 246, "kexec_file_load": 320,
    "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "fanotify_init": 300,
    "keyctl": 250, "add_key": 248, "request_key": 249,
    "reboot": 169, "swapon": 167, "swapoff": 168, "acct": 163, "syslog": 103,
    "settimeofday": 164, "clock_settime": 227, "clock_adjtime": 305, "adjtimex": 159,
    "sethostname": 170, "setdomainname": 171, "iopl": 172, "ioperm": 173, "quotactl": 179,
    "lookup_dcookie": 212, "open_by_handle_at": 304, "name_to_handle_at": 303, "vhangup": 153,
    "uselib": 134, "nfsservctl": 180, "get_kernel_syms": 177, "query_module": 178,
}  # fmt: skip
SYS_CLONE = 56
SYS_CLONE3 = 435
SYS_SOCKET = 41
AF_INET, AF_INET6, AF_PACKET = 2, 10, 17
SOCK_RAW = 3
SOCK_TYPE_MASK = 0xF


def available() -> str | None:
    """None when the filter can be loaded here, else the reason it cannot."""
    if platform.machine() != "x86_64":
        return f"the system-call filter has no table for {platform.machine()} yet"
    try:
        linux.prctl(linux.PR_GET_SECCOMP)
    except OSError as exc:
        return f"the kernel has no seccomp filters ({exc.strerror})"
    return None


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def _errno(code: int) -> int:
    return RET_ERRNO | code


def program() -> bytes:
    """The filter as ``struct sock_filter`` instructions."""
    eperm = _errno(errno.EPERM)
    insns = [
        _insn(_LD_W_ABS, _ARCH),
        _insn(_JEQ_K, AUDIT_ARCH_X86_64, jt=1),
        _insn(_RET_K, RET_KILL_PROCESS),
        _insn(_LD_W_ABS, _NR),
        _insn(_JGE_K, X32_SYSCALL_BIT, jf=1),
        _insn(_RET_K, eperm),
    ]
    for number in sorted(DENIED_X86_64.values()):
        insns += [_insn(_JEQ_K, number, jf=1), _insn(_RET_K, eperm)]
    insns += [_insn(_JEQ_K, SYS_CLONE3, jf=1), _insn(_RET_K, _errno(errno.ENOSYS))]
    # clone: refuse any namespace flag in the flags argument.
    insns += [
        _insn(_JEQ_K, SYS_CLONE, jf=4),
        _insn(_LD_W_ABS, _arg(0)),
        _insn(_JSET_K, linux.NAMESPACE_FLAGS, jf=1),
        _insn(_RET_K, eperm),
        _insn(_RET_K, RET_ALLOW),
    ]
    # socket: refuse packet sockets, and raw IPv4/IPv6 sockets.
    insns += [
        _insn(_JEQ_K, SYS_SOCKET, jf=10),
        _insn(_LD_W_ABS, _arg(0)),
        _insn(_JEQ_K, AF_PACKET, jf=1),
        _insn(_RET_K, eperm),
        _insn(_JEQ_K, AF_INET, jt=1),
        _insn(_JEQ_K, AF_INET6, jf=4),
        _insn(_LD_W_ABS, _arg(1)),
        _insn(_AND_K, SOCK_TYPE_MASK),
        _insn(_JEQ_K, SOCK_RAW, jf=1),
        _insn(_RET_K, eperm),
        _insn(_RET_K, RET_ALLOW),
    ]
    insns.append(_insn(_RET_K, RET_ALLOW))
    return b"".join(insns)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install() -> None:
    """Set no_new_privs and load the filter into the calling process, for good."""
    code = program()
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = _SockFprog(len(code) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    linux.prctl_pointer(linux.PR_SET_SECCOMP, linux.SECCOMP_MODE_FILTER, ctypes.pointer(fprog))
