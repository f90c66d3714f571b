"""The whole run: which servers start when, which measure runs against which, in what order.

Each stage that fails is recorded and the run goes on with the others, so one broken measure
still leaves the rest of the table (and the failure, with the server's log) in the report.
"""

from __future__ import annotations

import functools
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from benchmarks import measures
from benchmarks.measures import ColdStarts, ControlPlane, LoadRun, WrkRun
from benchmarks.servers import ServerProcess, echo_server, lamina_server
from benchmarks.stats import Summary

T = TypeVar("T")
NOOP_NAME = "bench-noop"


@dataclass(frozen=True)
class Plan:
    """How much of everything to do; ``full`` stays under about two minutes on 2 cores."""

    warmup_requests: int
    sequential_requests: int
    concurrency: tuple[int, ...]
    load_warmup_s: float
    load_duration_s: float
    client_processes: int
    cold_functions: int
    control_creates: int
    control_gets: int
    server_starts: int
    runtime: str = "python3.12"
    wrk: bool = False
    """Also run wrk (if installed) after each load run, as a cross-check of the generator."""

    @classmethod
    def full(cls) -> Plan:
        return cls(
            warmup_requests=500,
            sequential_requests=5000,
            concurrency=(8, 32),
            load_warmup_s=2.0,
            load_duration_s=10.0,
            client_processes=1,
            cold_functions=20,
            control_creates=50,
            control_gets=500,
            server_starts=5,
        )

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            warmup_requests=100,
            sequential_requests=500,
            concurrency=(8, 32),
            load_warmup_s=1.0,
            load_duration_s=2.0,
            client_processes=1,
            cold_functions=5,
            control_creates=10,
            control_gets=50,
            server_starts=2,
        )


@dataclass
class Results:
    plan: Plan
    started_at: float = field(default_factory=time.time)
    finished_at: float = 0.0
    start_to_ready_s: list[float] = field(default_factory=list)
    uncached_start_s: float | None = None
    floor_sequential: Summary | None = None
    floor_load: dict[int, LoadRun] = field(default_factory=dict)
    first_cold_s: float | None = None
    first_cold_init_s: float | None = None
    warm_sequential: Summary | None = None
    cold: ColdStarts | None = None
    control: ControlPlane | None = None
    invoke_load: dict[int, LoadRun] = field(default_factory=dict)
    wrk: dict[str, WrkRun] = field(default_factory=dict)
    """wrk's figures by "server clients", e.g. "lamina 32"."""
    lamina_exit_status: int | None = None
    server_log_problems: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)


def progress(message: str) -> None:
    print(f"· {message}", file=sys.stderr, flush=True)


class Suite:
    def __init__(self, plan: Plan, work_dir: Path) -> None:
        self.plan = plan
        self.work_dir = work_dir
        self.results = Results(plan)

    def stage(
        self, name: str, run: Callable[[], T], server: ServerProcess | None = None
    ) -> T | None:
        progress(name)
        try:
            return run()
        except Exception as exc:
            detail = "".join(traceback.format_exception_only(exc)).strip()
            self.results.failures[name] = detail
            progress(f"FAILED: {name}: {detail}")
            if server is not None:
                progress("server log (last lines):\n" + "\n".join(server.log().splitlines()[-30:]))
            traceback.print_exc(file=sys.stderr)
            return None

    def run(self) -> Results:
        starts = self.stage(
            "lamina serve: start to ready",
            lambda: measures.start_times(self.work_dir, self.plan.server_starts - 1),
        )
        if starts is not None:
            self.results.uncached_start_s, measured = starts
            self.results.start_to_ready_s.extend(measured)
        echo = echo_server(self.work_dir)
        echo_up = self.stage("raw floor: start the echo server", echo.start) is not None
        try:
            if echo_up:
                self.floor(echo)
            self.lamina(echo if echo_up else None)
        finally:
            echo.stop()
        self.results.finished_at = time.time()
        return self.results

    def floor(self, echo: ServerProcess) -> None:
        """The echo server's throughput; its sequential latency is measured with lamina's."""
        path = measures.invoke_path(NOOP_NAME)
        for n in self.plan.concurrency:
            run = self.stage(
                f"raw floor: {n} concurrent clients",
                functools.partial(self.load, echo, path, n),
            )
            if run is not None:
                self.results.floor_load[n] = run
            self.wrk("echo", echo, path, n)

    def load(self, server: ServerProcess, path: str, connections: int) -> LoadRun:
        return measures.load_run(
            server,
            path,
            connections,
            processes=self.plan.client_processes,
            warmup_s=self.plan.load_warmup_s,
            duration_s=self.plan.load_duration_s,
        )

    def lamina(self, echo: ServerProcess | None) -> None:
        server = lamina_server(self.work_dir)
        ready = self.stage("lamina serve: start the server under test", server.start)
        if ready is None:
            return
        self.results.start_to_ready_s.append(ready)
        try:
            self.lamina_measures(server, echo)
        finally:
            self.results.lamina_exit_status = server.stop()
            self.results.server_log_problems = _problems(server.log())

    def lamina_measures(self, server: ServerProcess, echo: ServerProcess | None) -> None:
        plan = self.plan
        client = measures.lambda_client(server.endpoint)
        deployed = self.stage("deploy the no-op function", lambda: self.deploy(client), server)
        if deployed is None:
            return
        first = self.stage(
            "first cold start on a fresh data directory",
            lambda: measures.first_invoke(server.port, NOOP_NAME),
            server,
        )
        if first is not None:
            self.results.first_cold_s, self.results.first_cold_init_s = first
        self.sequential(server, echo)
        self.results.cold = self.stage(
            f"cold start: {plan.cold_functions} new functions",
            lambda: measures.cold_starts(server.port, client, plan.cold_functions, plan.runtime),
            server,
        )
        self.results.control = self.stage(
            "control plane over boto3",
            lambda: measures.control_plane(
                server.port,
                client,
                plan.control_creates,
                plan.control_gets,
                plan.runtime,
                NOOP_NAME,
            ),
            server,
        )
        path = measures.invoke_path(NOOP_NAME)
        for n in plan.concurrency:
            run = self.stage(
                f"throughput: {n} concurrent clients",
                functools.partial(self.load, server, path, n),
                server,
            )
            if run is not None:
                self.results.invoke_load[n] = run
            self.wrk("lamina", server, path, n)

    def sequential(self, server: ServerProcess, echo: ServerProcess | None) -> None:
        """Warm invoke and raw floor latency, in alternating batches."""
        raw = measures.invoke_request(NOOP_NAME)
        targets = [(server.port, raw, "invoke")]
        if echo is not None:
            targets.append((echo.port, raw, "echo"))
        summaries = self.stage(
            "warm invoke and raw floor: sequential latency",
            lambda: measures.interleaved_latency(
                targets, self.plan.warmup_requests, self.plan.sequential_requests
            ),
            server,
        )
        if summaries is not None:
            self.results.warm_sequential = summaries[0]
            if echo is not None:
                self.results.floor_sequential = summaries[1]

    def wrk(self, label: str, server: ServerProcess, path: str, connections: int) -> None:
        if not self.plan.wrk:
            return
        run = self.stage(
            f"wrk cross-check: {label}, {connections} clients",
            lambda: measures.wrk_run(server.port, path, connections, self.plan.load_duration_s),
        )
        if run is not None:
            self.results.wrk[f"{label} {connections}"] = run

    def deploy(self, client: Any) -> bool:
        measures.create_function(
            client, NOOP_NAME, measures.handler_zip(runtime=self.plan.runtime), self.plan.runtime
        )
        measures.wait_active(client, NOOP_NAME)
        return True


def _problems(log: str) -> list[str]:
    """Lines of the server's log that report an error, a traceback or a warning."""
    markers = (" ERROR ", " CRITICAL ", "Traceback", " WARNING ")
    return [
        line
        for line in log.splitlines()
        if any(m in line for m in markers) and "sandbox 'process'" not in line
    ]
