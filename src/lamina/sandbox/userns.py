"""Rootless sandboxes: the namespace sandbox built inside a user namespace of its own.

When ``lamina serve`` runs as an ordinary user, the jailer cannot create namespaces, mount file
systems or change ids on the host. It can, however, create a **user namespace** and, inside it,
every other namespace an environment gets: the kernel grants the creator every capability
over the namespaces its new user namespace owns, and nothing on the host. Each environment
gets a user namespace of its own, with a single-id map (no ``newuidmap`` or subordinate ids
needed): the sandbox user (993) inside is the server's own uid outside, the sandbox group (990)
the server's gid. ``setgroups`` is denied in it (the kernel requires that before an
unprivileged process may map a group), so the server user's supplementary groups, which a
non-root process cannot shed, stay with the environment: run the server as a user without any.

Inside, init builds the same root file system as in root mode, then every process drops its
capabilities explicitly (its uid is not 0, so changing ids would not clear them): the bounding
and ambient sets are emptied, the permitted, effective and inheritable sets cleared, and
``no_new_privs`` set before the seccomp filter is loaded, exactly as in root mode.

A per-environment user namespace also gives a per-environment process limit without cgroups:
since Linux 5.14 ``RLIMIT_NPROC`` counts the processes of a user *in one user namespace*, and
every environment's processes are alone in theirs.
"""

from __future__ import annotations

import os
import resource

from lamina.sandbox import linux

NPROC_KERNEL = (5, 14)
"""The first kernel whose ``RLIMIT_NPROC`` counts processes per user namespace."""


def enter(flags: int, uid: int, gid: int) -> None:
    """Unshare a new user namespace together with ``flags`` (the namespaces it will own) and
    map ``uid``/``gid`` inside it to this process's own ids outside."""
    outer_uid, outer_gid = os.geteuid(), os.getegid()
    try:
        linux.unshare(flags | linux.CLONE_NEWUSER)
    except OSError as exc:
        reason = os.strerror(exc.errno or 0)
        raise OSError(exc.errno, f"unshare a user namespace and its namespaces: {reason}") from exc
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {outer_uid} 1")
    _write("/proc/self/gid_map", f"{gid} {outer_gid} 1")


def limit_processes(count: int) -> None:
    """At most ``count`` processes in this user namespace (soft and hard: for good)."""
    resource.setrlimit(resource.RLIMIT_NPROC, (count, count))


def nproc_counts_per_namespace(release: str | None = None) -> bool:
    """Whether ``RLIMIT_NPROC`` is counted per user namespace on this kernel (5.14+); before,
    it counted every process of the server's user, so it cannot stand in for a pids cgroup."""
    numbers = (release or os.uname().release).split("-")[0].split(".")
    try:
        version = (int(numbers[0]), int(numbers[1]))
    except (IndexError, ValueError):
        return False
    return version >= NPROC_KERNEL


def forbid_nested_user_namespaces() -> None:
    """Behind the seccomp filter, a second wall: no user namespace may be created inside this
    one (``user.max_user_namespaces`` is per user namespace). Needs the environment's own
    ``/proc`` and its capabilities, so init calls it once the root is built."""
    _write("/proc/sys/user/max_user_namespaces", "0")


def drop_privileges() -> None:
    """No capability left, none to be gained again (the ids are already the sandbox's).

    Also undumpable, as changing ids leaves a process in root mode: init's and the Runtime API
    relay's ``/proc`` files (``environ``, ``mem``) are then closed to the runtime, although
    they share its uid. Executing a program (or the zygote's ``run_in_place``) makes the
    runtime dumpable again, as in root mode.
    """
    linux.drop_capability_bounding_set()
    linux.clear_capabilities()
    linux.prctl(linux.PR_SET_DUMPABLE, 0)
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)


def _write(path: str, value: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as exc:
        raise OSError(exc.errno, f"write {value!r} to {path}: {exc.strerror}") from exc
