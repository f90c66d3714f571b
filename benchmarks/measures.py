"""The measurements themselves, each against servers the caller has started.

Latencies are taken from outside the server, over one keep-alive connection with TCP_NODELAY:
from the first byte of the request sent to the last byte of the response read.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import cpu, load, rawhttp
from benchmarks.cpu import Usage
from benchmarks.load import LoadResult
from benchmarks.servers import ServerProcess, lamina_server
from benchmarks.stats import Summary

ROLE = "arn:aws:iam::000000000000:role/r"
NOOP_SOURCE = "def handler(e, c):\n    return e\n"
NOOP_NODE_SOURCE = "exports.handler = async (e) => e;\n"
MEMORY_MB = 1769
"""One vCPU's worth: the sandbox gives a function CPU in proportion to its memory, as AWS does,
and at the default 128 MB (7 % of a CPU) a single environment could not take the load these
measures put on it; the figures are about lamina's overhead, not about that quota."""
EVENT = b'{"ping": 1}'
_ACTIVE_TIMEOUT_S = 30.0
_INIT_DURATION = re.compile(r"Init Duration: ([0-9.]+) ms")


class BenchmarkError(Exception):
    """A request the benchmark relies on failed; the message says which and how."""


def invoke_path(name: str) -> str:
    return f"/2015-03-31/functions/{name}/invocations"


def invoke_request(name: str, tail: bool = False) -> bytes:
    headers = {"X-Amz-Log-Type": "Tail"} if tail else None
    return rawhttp.build_request("POST", invoke_path(name), EVENT, headers)


def _check(response: rawhttp.Response, what: str) -> rawhttp.Response:
    if response.status != 200 or "x-amz-function-error" in response.headers:
        raise BenchmarkError(
            f"{what}: HTTP {response.status} "
            f"{response.headers.get('x-amz-function-error', '')} {response.body[:300]!r}"
        )
    return response


# -- sequential latency --------------------------------------------------------------------


def sequential_latency(port: int, raw: bytes, warmup: int, count: int, what: str) -> Summary:
    """``warmup`` unmeasured then ``count`` measured requests, one after another."""
    return interleaved_latency([(port, raw, what)], warmup, count)[0]


def interleaved_latency(
    targets: list[tuple[int, bytes, str]], warmup: int, count: int, rounds: int = 10
) -> list[Summary]:
    """Sequential latency of several (port, request, label) targets, measured in alternating
    batches over one connection each, so that they all see the same machine conditions."""
    conns = [rawhttp.Connection(port) for port, _, _ in targets]
    samples: list[list[float]] = [[] for _ in targets]
    try:
        for conn, (_, raw, what) in zip(conns, targets, strict=True):
            for _ in range(warmup):
                _check(conn.request(raw), what)
        batch = max(1, count // rounds)
        while len(samples[0]) < count:
            for conn, (_, raw, what), out in zip(conns, targets, samples, strict=True):
                for _ in range(min(batch, count - len(out))):
                    seconds, response = conn.timed(raw)
                    _check(response, what)
                    out.append(seconds)
    finally:
        for conn in conns:
            conn.close()
    return [Summary.of(out) for out in samples]


# -- throughput ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadRun:
    """A load result and how the CPU was used during its measured window."""

    result: LoadResult
    usage: Usage | None


def load_run(
    server: ServerProcess,
    path: str,
    connections: int,
    *,
    processes: int,
    warmup_s: float,
    duration_s: float,
) -> LoadRun:
    """``run_load`` against ``server``, sampling CPU use over the measured window."""
    start_at = load.start_time()
    begin = start_at + warmup_s
    sampler = cpu.WindowSampler(server.pid, begin, begin + duration_s)
    result = load.run_load(
        server.port,
        path,
        connections,
        processes=processes,
        warmup_s=warmup_s,
        duration_s=duration_s,
        body=EVENT.decode(),
        start_at=start_at,
    )
    return LoadRun(result, sampler.result())


@dataclass(frozen=True)
class WrkRun:
    rate: float
    non_2xx: int
    socket_errors: str


_WRK_SCRIPT = f"""wrk.method = "POST"
wrk.body = '{EVENT.decode()}'
wrk.headers["Content-Type"] = "application/json"
"""


def wrk_run(port: int, path: str, connections: int, duration_s: float) -> WrkRun | None:
    """The same closed-loop load from wrk (one thread), as a cross-check; None without wrk."""
    exe = shutil.which("wrk")
    if exe is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(_WRK_SCRIPT)
        script.flush()
        out = subprocess.run(
            [
                exe, "-t1", f"-c{connections}", f"-d{max(1, round(duration_s))}s",
                "-s", script.name, f"http://{rawhttp.HOST}:{port}{path}",
            ],
            capture_output=True,
            text=True,
            timeout=duration_s + 60,
        ).stdout  # fmt: skip
    found = re.search(r"Requests/sec:\s*([0-9.]+)", out)
    if found is None:
        raise BenchmarkError(f"wrk printed no rate:\n{out}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    errors = re.search(r"Socket errors:(.*)", out)
    return WrkRun(
        float(found.group(1)),
        int(non_2xx.group(1)) if non_2xx else 0,
        errors.group(1).strip() if errors else "",
    )


# -- functions over boto3 ------------------------------------------------------------------


def lambda_client(endpoint: str, service: str = "lambda") -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, read_timeout=120),
    )


def handler_zip(tag: str = "", runtime: str = "python3.12") -> bytes:
    """The no-op handler's package for ``runtime``; ``tag`` makes its bytes (and so its code
    hash) unique."""
    node = runtime.startswith("nodejs")
    name, source, comment = (
        ("handler.js", NOOP_NODE_SOURCE, "//") if node else ("handler.py", NOOP_SOURCE, "#")
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, source + (f"{comment} {tag}\n" if tag else ""))
    return buffer.getvalue()


def create_function(client: Any, name: str, zip_bytes: bytes, runtime: str) -> float:
    """CreateFunction over boto3; the seconds the call took (it returns while Pending)."""
    started = time.perf_counter()
    client.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": zip_bytes},
        MemorySize=MEMORY_MB,
    )
    return time.perf_counter() - started


def wait_active(client: Any, name: str) -> None:
    deadline = time.monotonic() + _ACTIVE_TIMEOUT_S
    while True:
        config = client.get_function_configuration(FunctionName=name)
        if config["State"] == "Active":
            return
        if config["State"] == "Failed" or time.monotonic() > deadline:
            raise BenchmarkError(f"function {name} is {config['State']}: {config}")
        time.sleep(0.005)


# -- cold start ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ColdStarts:
    request_to_response: Summary
    init_duration: Summary
    """Init Duration from each REPORT line (seconds in, as for the others)."""
    samples_ms: list[float]


def init_duration_s(response: rawhttp.Response) -> float | None:
    """Init Duration of the REPORT line in the base64 log tail, in seconds, if there is one."""
    tail = response.headers.get("x-amz-log-result")
    if not tail:
        return None
    found = _INIT_DURATION.search(base64.b64decode(tail).decode(errors="replace"))
    return float(found.group(1)) / 1000 if found else None


def first_invoke(port: int, name: str) -> tuple[float, float | None]:
    """One invocation with the log tail on a fresh connection: (seconds, Init Duration)."""
    with rawhttp.Connection(port) as conn:
        _check(conn.request(rawhttp.build_request("GET", "/_lamina/health")), "health")
        seconds, response = conn.timed(invoke_request(name, tail=True))
    _check(response, f"first invocation of {name}")
    return seconds, init_duration_s(response)


def cold_starts(port: int, client: Any, count: int, runtime: str) -> ColdStarts:
    """Deploy ``count`` distinct functions, then invoke each once over one keep-alive connection."""
    names = [f"bench-cold-{i}-{time.time_ns() % 10**9}" for i in range(count)]
    for i, name in enumerate(names):
        create_function(client, name, handler_zip(f"cold {i} {name}", runtime), runtime)
    for name in names:
        wait_active(client, name)
    latencies: list[float] = []
    inits: list[float] = []
    with rawhttp.Connection(port) as conn:
        _check(conn.request(rawhttp.build_request("GET", "/_lamina/health")), "health")
        for name in names:
            seconds, response = conn.timed(invoke_request(name, tail=True))
            _check(response, f"first invocation of {name}")
            latencies.append(seconds)
            init = init_duration_s(response)
            if init is not None:
                inits.append(init)
    for name in names:
        client.delete_function(FunctionName=name)
    return ColdStarts(Summary.of(latencies), Summary.of(inits), [s * 1000 for s in latencies])


# -- control plane -------------------------------------------------------------------------


@dataclass(frozen=True)
class ControlPlane:
    create: Summary
    get: Summary
    get_raw_http: Summary


def control_plane(
    port: int, client: Any, creates: int, gets: int, runtime: str, existing: str
) -> ControlPlane:
    """CreateFunction ``creates`` times and GetFunction ``gets`` times, over boto3; GetFunction
    also over raw HTTP, to separate the server's share from boto3's."""
    client.list_functions()  # opens boto3's connection and loads its service model
    for _ in range(5):
        client.get_function(FunctionName=existing)
    stamp = time.time_ns() % 10**9
    names = [f"bench-cp-{i}-{stamp}" for i in range(creates)]
    packages = [handler_zip(f"control {name}", runtime) for name in names]
    create_s = [
        create_function(client, name, package, runtime)
        for name, package in zip(names, packages, strict=True)
    ]
    get_s: list[float] = []
    for _ in range(gets):
        started = time.perf_counter()
        client.get_function(FunctionName=existing)
        get_s.append(time.perf_counter() - started)
    raw = rawhttp.build_request("GET", f"/2015-03-31/functions/{existing}")
    with rawhttp.Connection(port) as conn:
        for _ in range(5):
            _check(conn.request(raw), "GetFunction")
        raw_s = [conn.timed(raw)[0] for _ in range(gets)]
    for name in names:
        wait_active(client, name)
        client.delete_function(FunctionName=name)
    return ControlPlane(Summary.of(create_s), Summary.of(get_s), Summary.of(raw_s))


# -- start to ready ------------------------------------------------------------------------


def start_times(work_dir: Path, runs: int) -> tuple[float, list[float]]:
    """Start and stop ``lamina serve`` ``1 + runs`` times, each on a fresh data directory.

    The first start fills the bytecode cache (it is returned apart); the others are measured
    as an installed server starts.
    """
    times: list[float] = []
    for i in range(runs + 1):
        server = lamina_server(work_dir, f"start-{i}")
        try:
            times.append(server.start())
        finally:
            server.stop()
    return times[0], times[1:]
