"""The file system an environment sees, built in its own mount namespace.

A fresh tmpfs becomes the root; the host's system folders (``/usr`` and the merged-usr links
``/bin``, ``/lib``, ``/lib64``, ``/sbin``), the interpreter's installation, the function's code
(``/var/task``), its layers merged (``/opt``), lamina's runtime (``/var/runtime``) and the AWS
SDK are bound into it read-only; ``/tmp`` is a private tmpfs of ``EphemeralStorage`` megabytes
(its pages are charged to the environment's memory cgroup); ``/proc`` is the environment's
own, ``/dev`` a minimal set of devices; ``/etc`` holds only what programs need to run (users,
hosts, certificates). After ``pivot_root`` the host's tree is detached and the root itself is
remounted read-only, so the function can write only to ``/tmp`` (and its bytecode cache).
Nothing else of the host — other functions' code or /tmp, the data directory, home folders —
exists in this view.

``plan`` is pure (it runs in the server and is sent to the jailer); ``apply`` runs in the
environment's init process, as root of its mount namespace, before privileges are dropped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lamina.sandbox import linux

TASK_ROOT = "/var/task"
RUNTIME_DIR = "/var/runtime"
SDK_DIR = "/var/lang/sdk"
PYCACHE_DIR = "/var/lang/pycache"
OPT_DIR = "/opt"
LIBRARY_PATH = f"{TASK_ROOT}:{TASK_ROOT}/lib:{OPT_DIR}/lib"
"""``LD_LIBRARY_PATH`` inside an environment, as AWS sets it (minus its runtime's folders)."""
SYSTEM_DIRS = ("/usr", "/bin", "/lib", "/lib64", "/lib32", "/libx32", "/sbin")
ETC_FILES = ("/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/ld.so.cache",
             "/etc/localtime", "/etc/ssl/openssl.cnf")  # fmt: skip
ETC_DIRS = ("/etc/ssl/certs", "/etc/ld.so.conf.d", "/etc/alternatives")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

Step = dict[str, Any]


def plan(
    *,
    interpreter: Path,
    task_root: Path,
    runtime_dir: Path,
    sdk_dir: Path | None,
    pycache_dir: Path | None,
    tmp_mb: int,
    opt_dir: Path | None = None,
    uid: int,
    gid: int,
    resolv_conf: str | None = None,
) -> list[Step]:
    """The steps that build an environment's root, in order, as JSON-safe dicts;
    ``resolv_conf``: the environment's resolver configuration instead of the host's."""
    steps: list[Step] = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            steps.append({"op": "symlink", "target": path, "to": os.readlink(path)})
        elif os.path.isdir(path):
            steps.append({"op": "bind", "source": path, "target": path})
    # /tmp before the interpreter's folder: an interpreter installed under /tmp (a build
    # tree, a test cache) stays visible, read-only, inside the environment's own /tmp.
    steps.append({"op": "tmpfs", "target": "/tmp", "size_mb": tmp_mb, "mode": "1777"})
    prefix = interpreter.resolve().parent.parent
    if not any(_under(prefix, d) for d in SYSTEM_DIRS):
        steps.append({"op": "bind", "source": str(prefix), "target": str(prefix)})
    steps += [
        {"op": "bind", "source": str(task_root), "target": TASK_ROOT},
        {"op": "bind", "source": str(runtime_dir), "target": RUNTIME_DIR},
    ]
    if sdk_dir is not None:
        steps += _sdk_steps(sdk_dir)
    if pycache_dir is not None:
        steps.append({"op": "bind", "source": str(pycache_dir), "target": PYCACHE_DIR, "rw": True})
    if opt_dir is not None:
        steps.append({"op": "bind", "source": str(opt_dir), "target": OPT_DIR})
    else:
        steps.append({"op": "dir", "target": OPT_DIR})
    steps += _etc_steps(uid, gid, resolv_conf)
    steps += [{"op": "dev"}, {"op": "proc"}]
    return steps


def _under(path: Path, folder: str) -> bool:
    try:
        path.relative_to(Path(folder).resolve())
    except ValueError:
        return False
    return True


def _sdk_steps(sdk_dir: Path) -> list[Step]:
    """Each SDK package is a link in ``sdk_dir``; bind what it points to."""
    steps: list[Step] = []
    for entry in sorted(sdk_dir.iterdir()):
        real = entry.resolve()
        steps.append({"op": "bind", "source": str(real), "target": f"{SDK_DIR}/{entry.name}"})
    return steps


def _etc_steps(uid: int, gid: int, resolv_conf: str | None) -> list[Step]:
    passwd = f"root:x:0:0:root:/root:/sbin/nologin\nsbx_user:x:{uid}:{gid}::/tmp:/sbin/nologin\n"
    steps: list[Step] = [
        {"op": "file", "target": "/etc/passwd", "content": passwd},
        {"op": "file", "target": "/etc/group", "content": f"root:x:0:\nsbx_user:x:{gid}:\n"},
    ]
    if resolv_conf is not None:
        steps.append({"op": "file", "target": "/etc/resolv.conf", "content": resolv_conf})
    for path in ETC_FILES:
        if path == "/etc/resolv.conf" and resolv_conf is not None:
            continue
        if os.path.exists(path):
            steps.append({"op": "bind", "source": os.path.realpath(path), "target": path})
    for path in ETC_DIRS:
        if os.path.isdir(path):
            steps.append({"op": "bind", "source": path, "target": path})
    return steps


def apply(steps: list[Step], new_root: str, *, rootless: bool = False) -> None:
    """Build the root at ``new_root`` (an empty folder) and switch to it.

    Runs inside the environment's fresh mount namespace, as root, before privileges are
    dropped. Raises OSError naming the step that failed. ``rootless``: the mount namespace
    belongs to a user namespace (``userns.py``), where binds must keep the flags the host's
    mounts have locked.
    """
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    linux.mount("tmpfs", new_root, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "mode=0755,size=16m")
    for step in steps:
        _apply_step(step, new_root, rootless)
    old = os.path.join(new_root, ".old-root")
    os.mkdir(old)
    linux.pivot_root(new_root, old)
    os.chdir("/")
    linux.umount2("/.old-root", linux.MNT_DETACH)
    os.rmdir("/.old-root")
    linux.mount(
        None,
        "/",
        None,
        linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV,
    )


def _apply_step(step: Step, root: str, rootless: bool) -> None:
    op = step["op"]
    target = root + step.get("target", "")
    if op == "bind":
        source = step["source"]
        if os.path.isdir(source):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "a").close()
        linux.bind(source, target, writable=bool(step.get("rw")), keep_locked=rootless)
    elif op == "dir":
        os.makedirs(target, exist_ok=True)
    elif op == "symlink":
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.symlink(step["to"], target)
    elif op == "file":
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as out:
            out.write(step["content"])
    elif op == "tmpfs":
        os.makedirs(target, exist_ok=True)
        options = f"size={step['size_mb']}m,mode={step['mode']}"
        linux.mount("tmpfs", target, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, options)
    elif op == "dev":
        _make_dev(root + "/dev", rootless)
    elif op == "proc":
        os.makedirs(root + "/proc", exist_ok=True)
        flags = linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC
        linux.mount("proc", root + "/proc", "proc", flags)
    else:
        raise OSError(f"unknown root file system step {op!r}")


def _make_dev(dev: str, rootless: bool) -> None:
    os.makedirs(dev, exist_ok=True)
    linux.mount("tmpfs", dev, "tmpfs", linux.MS_NOSUID | linux.MS_NOEXEC, "mode=0755,size=64k")
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            open(f"{dev}/{name}", "a").close()
            linux.bind(
                f"/dev/{name}",
                f"{dev}/{name}",
                writable=True,
                flags=linux.MS_NOSUID,
                keep_locked=rootless,
            )
    os.makedirs(f"{dev}/shm", exist_ok=True)
    linux.mount(
        "tmpfs", f"{dev}/shm", "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "mode=1777,size=64m"
    )
    for name, to in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                     ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):  # fmt: skip
        os.symlink(to, f"{dev}/{name}")
