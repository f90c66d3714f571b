"""Cold starts of the rootless sandbox next to root mode, on one interpreter, in one run.

``python -m benchmarks.rootless_cold_start`` (run by root: it starts servers as ``nobody``)
makes a venv every user may run (``tests/security/rootless.py``) and starts, from it:

- ``root``: ``lamina serve`` as root (the default namespace sandbox);
- ``rootless, no cgroups``: the same as ``nobody`` with ``--cgroups optional`` (a user
  namespace per environment, no cgroup);
- ``rootless, delegated cgroup``: as ``nobody`` with ``--cgroup-parent`` naming v1 folders
  given to it (only where the host has v1 memory, cpu, pids and freezer hierarchies).

It then measures cold starts (a new ``python3.11`` function invoked once: request to response,
and the REPORT line's Init Duration) in each, in alternating rounds so that all see the same
machine conditions, and rewrites the ``rootless-cold-start`` block of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import time
from collections.abc import Iterator

from tests.security.rootless import (
    Workspace,
    delegated_v1_cgroup,
    has_v1_cgroups,
    rootless_workspace,
)

from benchmarks import measures
from benchmarks.sandbox_cost import write_block
from benchmarks.servers import ServerProcess, free_port
from benchmarks.stats import Summary

BEGIN, END = "<!-- rootless-cold-start -->", "<!-- /rootless-cold-start -->"
RUNTIME = "python3.11"
"""A runtime whose interpreter ``nobody`` may run here (pyenv's live under /root)."""


def _server(workspace: Workspace, name: str, as_user: bool, *extra: str) -> ServerProcess:
    port = free_port()
    folder = workspace.home / name
    folder.mkdir()
    os.chown(folder, workspace.user.pw_uid, workspace.user.pw_gid)
    argv = workspace.serve_argv(folder / "data", port, "--idle-timeout", "3600", *extra)
    if as_user:
        argv = workspace.as_user(argv)
    return ServerProcess(argv, port, workspace.folder / f"{name}.log", folder / "pycache")


@contextlib.contextmanager
def servers(workspace: Workspace) -> Iterator[dict[str, ServerProcess]]:
    with contextlib.ExitStack() as stack:
        started = {
            "root": _server(workspace, "root", False),
            "rootless, no cgroups": _server(workspace, "nocg", True, "--cgroups", "optional"),
        }
        if has_v1_cgroups():
            parent = stack.enter_context(delegated_v1_cgroup(workspace))
            started["rootless, delegated cgroup"] = _server(
                workspace, "delegated", True, "--cgroup-parent", parent
            )
        for server in started.values():
            server.start()
            stack.callback(server.stop)
        yield started


def measure(started: dict[str, ServerProcess], count: int, rounds: int) -> dict[str, Summary]:
    clients = {name: measures.lambda_client(s.endpoint) for name, s in started.items()}
    for name, server in started.items():  # each runtime's zygote starts here, once
        client = clients[name]
        measures.create_function(client, "warm-up", measures.handler_zip("warm-up"), RUNTIME)
        measures.wait_active(client, "warm-up")
        measures.first_invoke(server.port, "warm-up")
    samples: dict[str, list[float]] = {name: [] for name in started}
    inits: dict[str, list[float]] = {name: [] for name in started}
    per_round = max(1, count // rounds)
    for _ in range(rounds):
        for name, server in started.items():
            cold = measures.cold_starts(server.port, clients[name], per_round, RUNTIME)
            samples[name] += [ms / 1000 for ms in cold.samples_ms]
            inits[name].append(cold.init_duration.p50_ms)
    summaries = {name: Summary.of(values) for name, values in samples.items()}
    for name, values in inits.items():
        summaries[f"{name}: Init Duration (median of rounds)"] = Summary.of(
            [v / 1000 for v in values]
        )
    return summaries


def render(results: dict[str, Summary], count: int) -> str:
    rows = [
        BEGIN,
        "### Cold starts, rootless mode next to root mode",
        "",
        f"`python -m benchmarks.rootless_cold_start` ({time.strftime('%Y-%m-%d %H:%M')} UTC, "
        f"{os.cpu_count()} cores, kernel {platform.release()}): {count} new `{RUNTIME}` "
        "functions per server, each invoked once (zygotes on), alternating rounds; servers "
        f"run by `/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}`.",
        "",
        "| server | p50 | p99 |",
        "| --- | --- | --- |",
    ]
    rows += [f"| {name} | {s.p50_ms:.2f} ms | {s.p99_ms:.2f} ms |" for name, s in results.items()]
    rows.append(END)
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rootless_cold_start")
    parser.add_argument("--cold", type=int, default=40, help="new functions per server")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run it as root: it starts one server as root and others as nobody", file=sys.stderr)
        return 2
    with rootless_workspace() as workspace, servers(workspace) as started:
        results = measure(started, args.cold, args.rounds)
    text = render(results, args.cold)
    print(text)
    if not args.no_write:
        write_block(BEGIN, END, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
