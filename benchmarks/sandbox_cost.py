"""Cost of creating one execution environment, by sandbox backend and by step.

``python -m benchmarks.sandbox_cost`` (Linux) measures, in one run:

- **per backend**, from asking the backend for a sandbox to the first byte the started
  interpreter (``python -S`` that only answers on its control socket) sends back: the
  ``process`` backend (a plain child) and the ``namespace`` backend (jailer, namespaces,
  cgroup, root file system, privileges, seccomp);
- **per step** of a namespace sandbox, timed inside forked children exactly as the jailer runs
  them: cgroup creation and joining, ``unshare`` of the namespaces, the fork into the new PID
  namespace, building the root file system, dropping privileges and loading the filter, and
  ``exec`` of the interpreter up to its first instruction;
- **the network step**: in the ``none`` network each environment's ``unshare`` makes a network
  namespace (part of the ``unshare`` row); in ``egress`` it joins one made ahead of time
  (``setns``), and making (namespace, veth pair, addresses, routes) and releasing one happen off
  the cold-start path, on the pool's thread. The ``namespace, egress`` backend row is the whole
  creation with a pool of ready namespaces.

Run by root, it measures the root mode and rewrites the block between the ``sandbox-cost``
markers of docs/benchmarks.md; run by another user, it measures the rootless mode (each
environment in a user namespace of its own, ``userns.py``; no cgroups unless ``--cgroup-parent``
names a subtree that user may write) and rewrites the ``sandbox-cost-rootless`` block.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.stats import Summary
from lamina.sandbox import (
    Mounts,
    ProcessBackend,
    SandboxBackend,
    SandboxSpec,
    jailer,
    linux,
    rootfs,
    seccomp,
    userns,
)
from lamina.sandbox.cgroups import Cgroups, Limits
from lamina.sandbox.egress import EgressHost
from lamina.sandbox.namespace import SANDBOX_GID, SANDBOX_UID, NamespaceBackend
from lamina.sandbox.netns_pool import NetnsPool

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
BEGIN, END = "<!-- sandbox-cost -->", "<!-- /sandbox-cost -->"
ROOTLESS_BEGIN, ROOTLESS_END = "<!-- sandbox-cost-rootless -->", "<!-- /sandbox-cost-rootless -->"
ROOTLESS = os.geteuid() != 0
ANSWER = (
    "import os, socket\n"
    "s = socket.socket(fileno=int(os.environ['_LAMINA_CONTROL_FD']))\n"
    "s.send(b'x')\n"
    "s.recv(1)\n"
)
STEPS = ("cgroup", "unshare", "fork into PID namespace", "root file system",
         "privileges + seccomp", "exec to first instruction")  # fmt: skip


def _mounts(work: Path) -> Mounts:
    task = work / "task"
    task.mkdir(exist_ok=True)
    runtime_dir = Path(jailer.__file__).resolve().parent.parent / "runtime"
    return Mounts(
        interpreter=Path(sys.executable).resolve(), task_root=task, runtime_dir=runtime_dir
    )


async def _one(backend: SandboxBackend, mounts: Mounts) -> float:
    view = backend.view(mounts)
    spec = SandboxSpec(
        environment_id=uuid.uuid4().hex,
        argv=(view.interpreter, "-S", "-c", ANSWER),
        env={"PATH": "/usr/bin:/bin"},
        cwd=view.task_root,
        mounts=mounts,
        memory_mb=256,
        ephemeral_storage_mb=64,
    )
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    sandbox = await backend.create(spec)
    await loop.sock_recv(sandbox.control, 1)
    elapsed = time.perf_counter() - started
    await sandbox.destroy()
    return elapsed


def _cgroups(parent: str | None) -> Cgroups:
    """The host's cgroups, or none when this user cannot make any (rootless, no subtree)."""
    cgroups = Cgroups.discover(parent=parent)
    return cgroups if cgroups.problem() is None else Cgroups.none()


async def per_backend(work: Path, runs: int, cgroups: Cgroups) -> dict[str, Summary]:
    mounts = _mounts(work)
    namespace = NamespaceBackend(work / "sandbox", cgroups, rootless=ROOTLESS)
    backends: list[tuple[str, SandboxBackend]] = [
        ("process", ProcessBackend()),
        ("namespace, network none", namespace),
    ]
    egress = None
    if not ROOTLESS:  # egress needs root (veth pairs and NAT on the host)
        egress = NamespaceBackend(
            work / "sandbox-egress", cgroups, network="egress", egress=EgressHost()
        )
        backends.append(("namespace, network egress", egress))
    for _name, backend in backends:
        for _ in range(10):  # warm-up: starts the jailer, uses up groups the other swept
            await _one(backend, mounts)
    samples: dict[str, list[float]] = {name: [] for name, _backend in backends}
    for _ in range(runs):  # interleaved, so that the machine's load weighs on all alike
        for name, backend in backends:
            samples[name].append(await _one(backend, mounts))
            await asyncio.sleep(0.02)  # as between cold starts: the pools refill meanwhile
    results = {name: Summary.of(values) for name, values in samples.items()}
    await namespace.close()
    if egress is not None:
        await egress.close()
    return results


def network_steps(runs: int) -> dict[str, Summary]:
    """The network step of an environment, by mode, each in a forked child as the jailer's
    intermediate process runs it; and the pool's work off the path."""
    host = EgressHost()
    pool = NetnsPool(host.network, size=0)
    samples: dict[str, list[float]] = {k: [] for k in NETWORK_STEPS}
    try:
        for _ in range(runs):
            samples["none: unshare a network namespace"].append(_in_child(None))
            started = time.perf_counter()
            lease = pool.make()
            samples["egress, off the path: make namespace + veth + addresses"].append(
                time.perf_counter() - started
            )
            samples["egress: setns into a pre-made namespace"].append(_in_child(lease.netns_fd))
            started = time.perf_counter()
            pool.release(lease)
            samples["egress: release (the kernel deletes namespace and veths later)"].append(
                time.perf_counter() - started
            )
    finally:
        host.close()
    return {step: Summary.of(values) for step, values in samples.items()}


NETWORK_STEPS = (
    "none: unshare a network namespace",
    "egress: setns into a pre-made namespace",
    "egress, off the path: make namespace + veth + addresses",
    "egress: release (the kernel deletes namespace and veths later)",
)


def _in_child(netns: int | None) -> float:
    """Seconds a forked child takes to enter its network namespace."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        started = time.perf_counter()
        if netns is None:
            linux.unshare(linux.CLONE_NEWNET)
        else:
            linux.setns(netns, linux.CLONE_NEWNET)
        os.write(write_end, str(time.perf_counter() - started).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        data = reader.read()
    os.waitpid(pid, 0)
    return float(data)


def _timed_child(work: Path, cgroups: Cgroups) -> dict[str, float]:
    """One sandbox built step by step in forked children; each step's seconds."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os._exit(_intermediate(work, write_end, cgroups))
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        data = reader.read()
    os.waitpid(pid, 0)
    lines = [json.loads(line) for line in data.splitlines() if line]
    return {k: v for line in lines for k, v in line.items()}


def _intermediate(work: Path, report: int, cgroups: Cgroups) -> int:
    t0 = time.perf_counter()
    group = cgroups.create(f"bench-{uuid.uuid4().hex}", Limits(256))
    group.attach(os.getpid())
    t1 = time.perf_counter()
    flags = (linux.CLONE_NEWNS | linux.CLONE_NEWUTS | linux.CLONE_NEWIPC | linux.CLONE_NEWPID
             | linux.CLONE_NEWCGROUP | linux.CLONE_NEWNET)  # fmt: skip
    if ROOTLESS:
        userns.enter(flags, SANDBOX_UID, SANDBOX_GID)
        userns.limit_processes(1024)
    else:
        linux.unshare(flags)
    t2 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os._exit(_init(work, report, t2))
    os.write(report, json.dumps({"cgroup": t1 - t0, "unshare": t2 - t1}).encode() + b"\n")
    os.waitpid(pid, 0)
    group.remove()
    return 0


def _init(work: Path, report: int, forked_at: float) -> int:
    t3 = time.perf_counter()
    mounts = _mounts(work)
    steps = rootfs.plan(
        interpreter=mounts.interpreter, task_root=mounts.task_root,
        runtime_dir=mounts.runtime_dir, sdk_dir=None, pycache_dir=None, tmp_mb=64,
        uid=SANDBOX_UID, gid=SANDBOX_GID,
    )  # fmt: skip
    (work / "sandbox" / "root").mkdir(parents=True, exist_ok=True)
    rootfs.apply(steps, str(work / "sandbox" / "root"), rootless=ROOTLESS)
    if ROOTLESS:
        userns.forbid_nested_user_namespaces()
    t4 = time.perf_counter()
    os.chdir("/tmp")
    if ROOTLESS:
        userns.drop_privileges()
    else:
        linux.drop_capability_bounding_set()
        os.setgroups([])
        os.setresgid(SANDBOX_GID, SANDBOX_GID, SANDBOX_GID)
        os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
    seccomp.install()
    t5 = time.perf_counter()
    os.write(report, json.dumps({
        "fork into PID namespace": t3 - forked_at, "root file system": t4 - t3,
        "privileges + seccomp": t5 - t4,
    }).encode() + b"\n")  # fmt: skip
    os.set_inheritable(report, True)
    stamp = time.time()
    line = '{"exec to first instruction": %f}\n'
    code = (
        f"import time\nelapsed = time.time() - {stamp}\n"
        f"import os\nos.write({report}, ({line!r} % elapsed).encode())\n"
    )
    os.execv(str(mounts.interpreter), [str(mounts.interpreter), "-S", "-c", code])


def per_step(work: Path, runs: int, cgroups: Cgroups) -> dict[str, Summary]:
    samples: dict[str, list[float]] = {step: [] for step in STEPS}
    for _ in range(runs):
        for step, seconds in _timed_child(work, cgroups).items():
            samples[step].append(seconds)
    return {step: Summary.of(values) for step, values in samples.items()}


def render(
    backends: dict[str, Summary],
    steps: dict[str, Summary],
    network: dict[str, Summary],
    runs: int,
    cgroups: Cgroups,
) -> str:
    mode = "root"
    if ROOTLESS:
        kind = "with cgroups" if cgroups.enabled else "without cgroups"
        mode = f"rootless: uid {os.geteuid()}, a user namespace per environment, {kind}"
    rows = [
        ROOTLESS_BEGIN if ROOTLESS else BEGIN,
        "### Sandbox creation cost" + (", rootless mode" if ROOTLESS else ""),
        "",
        f"`python -m benchmarks.sandbox_cost` ({mode}; {runs} runs each, "
        f"{time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} cores, kernel "
        f"{platform.release()}, interpreter `python{sys.version_info[0]}.{sys.version_info[1]} "
        "-S`).",
        "",
        "| backend: create → first byte from the interpreter | p50 | p99 |",
        "| --- | --- | --- |",
    ]
    rows += [f"| {name} | {s.p50_ms:.2f} ms | {s.p99_ms:.2f} ms |" for name, s in backends.items()]
    rows += ["", "| namespace sandbox step | p50 | p99 |", "| --- | --- | --- |"]
    rows += [f"| {name} | {s.p50_ms:.3f} ms | {s.p99_ms:.3f} ms |" for name, s in steps.items()]
    if network:
        rows += ["", "| network step | p50 | p99 |", "| --- | --- | --- |"]
        rows += [
            f"| {name} | {s.p50_ms:.3f} ms | {s.p99_ms:.3f} ms |" for name, s in network.items()
        ]
    rows.append(ROOTLESS_END if ROOTLESS else END)
    return "\n".join(rows)


def write_block(begin: str, end: str, block: str) -> None:
    """Replace the block between two markers of docs/benchmarks.md (or append it)."""
    text = DOC.read_text()
    if begin in text and end in text:
        before, rest = text.split(begin, 1)
        after = rest.split(end, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sandbox_cost")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--cgroup-parent", help="rootless: a cgroup subtree this user may write")
    args = parser.parse_args()
    cgroups = _cgroups(args.cgroup_parent)
    with tempfile.TemporaryDirectory(prefix="lamina-sandbox-cost-") as tmp:
        work = Path(tmp)
        backends = asyncio.run(per_backend(work, args.runs, cgroups))
        steps = per_step(work, args.runs, cgroups)
        network = {} if ROOTLESS else network_steps(args.runs)
    block = render(backends, steps, network, args.runs, cgroups)
    print(block)
    if not args.no_write:
        if ROOTLESS:
            write_block(ROOTLESS_BEGIN, ROOTLESS_END, block)
        else:
            write_block(BEGIN, END, block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
