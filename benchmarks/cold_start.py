"""Cold starts, the warm path, memory per environment and the ramp to many environments,
next to naive baselines, in one run (issue 5's one command).

``python -m benchmarks.cold_start`` measures, in one run:

- **cold start**, request sent to response read, for new functions (each invoked once, over one
  keep-alive connection): lamina as it runs by default (environments forked from a zygote of
  the runtime), lamina with ``--zygotes off`` (a fresh interpreter per environment: the naive
  baseline inside the same sandbox), and a process-per-invocation runner,
  ``python-lambda-local`` (no sandbox, a new interpreter for every invocation);
- **first invocation of an alias with provisioned concurrency**: ``--cold`` functions, each
  published with an alias whose provisioned concurrency of 1 became READY (``provisioned.py``);
- **warm invokes** of a no-op function: sequential latency next to a raw HTTP echo server
  (the floor), in alternating batches, and sustained invokes per second with 8 clients
  (``warm.py``); the baseline is python-lambda-local's rate, a process per invocation;
- **memory per idle warm environment**: the proportional set size (PSS, from
  ``/proc/<pid>/smaps_rollup``) of every process in the environments' cgroups after
  ``--functions`` functions have each been invoked once and frozen, divided by their number,
  with and without zygotes (pages shared with a zygote count in proportion);
- **cold start with SnapStart**: functions whose init takes a while (``json`` and ``decimal``
  imported, 50 ms of sleep at module level), each created with SnapStart: the first invocation
  of ``$LATEST`` (a cold start that runs the init) next to the first invocation of a published
  version (restored from the snapshot made at publish; its ``Restore Duration`` too);
- **memory per idle environment of a SnapStart version**: ``--functions`` environments of one
  function whose init builds ~7 MB of data, started at once from ``$LATEST`` (each runs the
  init) and from its SnapStart version (each forked from the template), then frozen: PSS
  per environment of each kind, and the template's own;
- **0 to N concurrent environments** of one function: N invocations at once of a handler that
  waits until a common release time, so every one holds its own environment; how long until
  the last of them started running, and how many distinct environments ran; with zygotes,
  and again with ``--zygotes off`` (a fresh interpreter per environment) unless
  ``--no-ramp-baseline``.

The header line records the machine, versions and the command.

Needs root (the namespace sandbox). Prints the figures and rewrites the ``cold-start`` block of
docs/benchmarks.md (unless ``--no-write``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import measures, rawhttp
from benchmarks.measures import ColdStarts
from benchmarks.provisioned import alias_first_invocations
from benchmarks.sandbox_cost import write_block
from benchmarks.servers import ROOT, ServerProcess, free_port
from benchmarks.stats import Summary
from benchmarks.warm import WarmFigures, warm_figures

BEGIN, END = "<!-- cold-start -->", "<!-- /cold-start -->"
SLOW_INIT_SOURCE = """
import decimal, json, time
time.sleep(0.05)

def handler(event, context):
    return event
"""
_RESTORE_DURATION = re.compile(r"Restore Duration: ([0-9.]+) ms")
DATA_INIT_SOURCE = """
import time
DATA = [str(i) * 10 for i in range(100000)]

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return len(DATA)
"""
RAMP_SOURCE = """
import os, time

def handler(event, context):
    started = time.time()
    time.sleep(max(0.0, event["release_at"] - started))
    return {"started": started, "environment": os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]}
"""


UNBOUNDED_MEMORY_MB = 1 << 30


def lamina(work: Path, name: str, *extra: str) -> ServerProcess:
    """A server that keeps every environment: no reaping, and a memory budget (MemorySize
    counted) far above what these environments really use (~2 MB each), so nothing measured is
    evicted (the default budget, 80 % of RAM, holds ten 1,769 MB environments on 24 GB)."""
    port = free_port()
    argv = [
        sys.executable, "-m", "lamina", "serve", "--port", str(port),
        "--data-dir", str(work / f"{name}-data"), "--idle-timeout", "3600",
        "--memory-budget", str(UNBOUNDED_MEMORY_MB), *extra,
    ]  # fmt: skip
    return ServerProcess(argv, port, work / f"{name}.log", work / "pycache")


# -- cold starts ----------------------------------------------------------------------------


def cold_starts(server: ServerProcess, count: int, runtime: str) -> ColdStarts:
    client = measures.lambda_client(server.endpoint)
    measures.create_function(client, "warm-up", measures.handler_zip("warm-up"), runtime)
    measures.wait_active(client, "warm-up")
    measures.first_invoke(server.port, "warm-up")  # the runtime's zygote starts here, once
    return measures.cold_starts(server.port, client, count, runtime)


def process_per_invocation(work: Path, count: int) -> Summary:
    """python-lambda-local: one new interpreter (and no sandbox) per invocation."""
    handler = work / "noop.py"
    handler.write_text(measures.NOOP_SOURCE)
    event = work / "event.json"
    event.write_bytes(measures.EVENT)
    tool = Path(sys.executable).parent / "python-lambda-local"
    samples = []
    for _ in range(count + 1):
        started = time.perf_counter()
        subprocess.run(
            [str(tool), "-f", "handler", "-t", "3", str(handler), str(event)],
            check=True,
            capture_output=True,
        )
        samples.append(time.perf_counter() - started)
    return Summary.of(samples[1:])


# -- SnapStart ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SnapStarts:
    plain: Summary
    """First invocation of $LATEST: a cold start that runs the slow init."""
    snap_start: Summary
    """First invocation of the published version: restored from its snapshot."""
    restore: Summary
    """Restore Duration of those REPORT lines."""


def snap_starts(server: ServerProcess, count: int, runtime: str) -> SnapStarts:
    client = measures.lambda_client(server.endpoint)
    stamp = time.time_ns() % 10**9
    names = [f"snap-{i}-{stamp}" for i in range(count)]
    for i, name in enumerate(names):
        client.create_function(
            FunctionName=name, Runtime=runtime, Role=measures.ROLE, Handler="handler.handler",
            Code={"ZipFile": _zip(f"{SLOW_INIT_SOURCE}# {i} {name}\n")},
            MemorySize=measures.MEMORY_MB, SnapStart={"ApplyOn": "PublishedVersions"},
        )  # fmt: skip
    for name in names:
        measures.wait_active(client, name)
    versions = {name: _published(client, name) for name in names}
    plain, restored, restores = [], [], []
    with rawhttp.Connection(server.port) as conn:
        for name in names:
            seconds, _ = conn.timed(measures.invoke_request(name, tail=True))
            plain.append(seconds)
            qualified = f"{name}:{versions[name]}"
            seconds, response = conn.timed(measures.invoke_request(qualified, tail=True))
            restored.append(seconds)
            tail = base64.b64decode(response.headers.get("x-amz-log-result", "")).decode()
            found = _RESTORE_DURATION.search(tail)
            if found is None:
                raise measures.BenchmarkError(f"no Restore Duration for {qualified}: {tail!r}")
            restores.append(float(found.group(1)) / 1000)
    for name in names:
        client.delete_function(FunctionName=name)
    return SnapStarts(Summary.of(plain), Summary.of(restored), Summary.of(restores))


@dataclass(frozen=True)
class SnapStartMemory:
    environments: int
    plain_mb: float
    restored_mb: float
    template_mb: float


def snap_start_memory(server: ServerProcess, count: int, runtime: str) -> SnapStartMemory:
    """PSS per idle environment: ``count`` of $LATEST next to ``count`` restored ones."""
    client = measures.lambda_client(server.endpoint)
    logs = measures.lambda_client(server.endpoint, "logs")
    name = f"snap-memory-{time.time_ns() % 10**9}"
    client.create_function(
        FunctionName=name, Runtime=runtime, Role=measures.ROLE, Handler="handler.handler",
        Code={"ZipFile": _zip(DATA_INIT_SOURCE)}, MemorySize=512, Timeout=60,
        SnapStart={"ApplyOn": "PublishedVersions"},
    )  # fmt: skip
    measures.wait_active(client, name)
    version = _published(client, name)
    event = json.dumps({"sleep": 1}).encode()
    with ThreadPoolExecutor(count) as pool:
        for qualifier in ("$LATEST", version):
            calls = [pool.submit(client.invoke, FunctionName=name, Qualifier=qualifier,
                                 Payload=event) for _ in range(count)]  # fmt: skip
            for call in calls:
                call.result()
    time.sleep(2.0)  # idle environments are frozen after a second
    first: dict[str, str] = {}
    for item in logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]:
        first.setdefault(item["logStreamName"], item["message"])
    kinds: dict[str, set[str]] = {"plain": set(), "restored": set(), "template": set()}
    for stream, message in first.items():
        environment = stream.rsplit("]", 1)[1]
        if "[$LATEST]" in stream:
            kinds["plain"].add(environment)
        elif message.startswith("RESTORE_START"):
            kinds["restored"].add(environment)
        else:
            kinds["template"].add(environment)
    memory = SnapStartMemory(
        environments=count,
        plain_mb=_pss_kb(kinds["plain"]) / 1024 / max(1, len(kinds["plain"])),
        restored_mb=_pss_kb(kinds["restored"]) / 1024 / max(1, len(kinds["restored"])),
        template_mb=_pss_kb(kinds["template"]) / 1024,
    )
    client.delete_function(FunctionName=name)
    return memory


def _published(client: Any, name: str) -> str:
    version: str = client.publish_version(FunctionName=name)["Version"]
    while client.get_function_configuration(FunctionName=name, Qualifier=version)["State"] != (
        "Active"
    ):
        time.sleep(0.02)
    return version


# -- memory per environment -----------------------------------------------------------------


def memory_per_environment(server: ServerProcess, functions: int, runtime: str) -> float:
    """MB of PSS per idle warm environment: every process in the environments' cgroups."""
    client = measures.lambda_client(server.endpoint)
    logs = measures.lambda_client(server.endpoint, "logs")
    stamp = time.time_ns() % 10**9
    names = [f"mem-{i}-{stamp}" for i in range(functions)]
    for i, name in enumerate(names):
        measures.create_function(client, name, measures.handler_zip(f"mem {i} {name}"), runtime)
    for name in names:
        measures.wait_active(client, name)
    for name in names:
        measures.first_invoke(server.port, name)
    time.sleep(2.0)  # idle environments are frozen after a second
    environments: set[str] = set()
    for name in names:
        streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
        environments.update(s["logStreamName"].rsplit("]", 1)[1] for s in streams)
    return _pss_kb(environments) / 1024 / len(environments)


def _pss_kb(environments: set[str]) -> int:
    """The PSS of the processes whose cgroup is one of these environments'."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            groups = (entry / "cgroup").read_text()
            # An environment's groups are named ``<server pid>-<environment id>``.
            if not any(f"-{environment}\n" in groups for environment in environments):
                continue
            rollup = (entry / "smaps_rollup").read_text()
        except OSError:
            continue
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    return total


# -- the ramp to many environments ----------------------------------------------------------


@dataclass(frozen=True)
class Ramp:
    requested: int
    environments: int
    """Distinct environments that ran (each invocation reports its log stream)."""
    last_start_s: float
    """From the first request sent until the last handler started running."""
    all_answered_s: float
    errors: int


def ramp(server: ServerProcess, count: int, hold_s: float) -> Ramp:
    client = measures.lambda_client(server.endpoint)
    name = "ramp"
    client.create_function(
        FunctionName=name, Runtime="python3.12", Role=measures.ROLE, Handler="handler.handler",
        Code={"ZipFile": _zip(RAMP_SOURCE)}, MemorySize=128, Timeout=900,
    )  # fmt: skip
    measures.wait_active(client, name)
    return asyncio.run(_ramp(server.port, name, count, hold_s))


async def _ramp(port: int, name: str, count: int, hold_s: float) -> Ramp:
    started = time.time()
    event = json.dumps({"release_at": started + hold_s}).encode()
    request = rawhttp.build_request("POST", measures.invoke_path(name), event)
    results = await asyncio.gather(*(_one(port, request) for _ in range(count)))
    answered = time.time() - started
    bodies = [r for r in results if isinstance(r, dict) and "started" in r]
    return Ramp(
        requested=count,
        environments=len({b["environment"] for b in bodies}),
        last_start_s=max((b["started"] for b in bodies), default=started) - started,
        all_answered_s=answered,
        errors=count - len(bodies),
    )


async def _one(port: int, request: bytes) -> Any:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as exc:
        return str(exc)
    try:
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        _, headers = rawhttp.parse_head(head)
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return json.loads(body)
    except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
        return str(exc)
    finally:
        writer.close()


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", source)
    return buffer.getvalue()


# -- the run --------------------------------------------------------------------------------


@dataclass
class Results:
    provisioned_alias: Summary | None = None
    warm: WarmFigures | None = None
    ramp_fresh: Ramp | None = None
    zygote: ColdStarts | None = None
    fresh: ColdStarts | None = None
    per_invocation: Summary | None = None
    pss_zygote_mb: float | None = None
    pss_fresh_mb: float | None = None
    ramp: Ramp | None = None
    snap: SnapStarts | None = None
    snap_memory: SnapStartMemory | None = None


def run(args: argparse.Namespace) -> Results:
    results = Results()
    with tempfile.TemporaryDirectory(prefix="lamina-cold-bench-") as tmp:
        work = Path(tmp)
        for label, extra in (("zygote", ()), ("fresh", ("--zygotes", "off"))):
            server = lamina(work, label, *extra)
            server.start()
            try:
                starts = cold_starts(server, args.cold, args.runtime)
                if label == "zygote":
                    results.provisioned_alias = alias_first_invocations(
                        server, args.cold, args.runtime
                    )
                    results.warm = warm_figures(server, work, args.runtime, args.warm)
                    results.snap = snap_starts(server, args.cold, args.runtime)
                    results.snap_memory = snap_start_memory(server, args.functions, args.runtime)
                pss = memory_per_environment(server, args.functions, args.runtime)
            finally:
                server.stop()
            setattr(results, label, starts)
            setattr(results, f"pss_{label}_mb", pss)
        results.per_invocation = process_per_invocation(work, args.cold)
        if args.ramp:
            limit = ("--concurrency-limit", str(max(1000, args.ramp)))
            ramps: list[tuple[str, tuple[str, ...]]] = [
                ("ramp", ()),
                ("ramp_fresh", ("--zygotes", "off")),
            ]
            for label, flags in ramps[: 2 if args.ramp_baseline else 1]:
                server = lamina(work, label, *limit, *flags)
                server.start()
                try:
                    setattr(results, label, ramp(server, args.ramp, args.hold))
                finally:
                    server.stop()
    return results


def block(results: Results, args: argparse.Namespace) -> str:
    rows = [
        BEGIN,
        "",
        f"### Cold starts, warm path, memory and ramp (`python -m benchmarks.cold_start`, "
        f"{args.cold} new functions per cold-start row, {args.runtime}, 1,769 MB)",
        "",
        _machine(args),
        "",
        "| measure | p50 | p99 |",
        "| --- | --- | --- |",
        *_latency_rows(results),
        *_warm_rows(results),
        *_memory_rows(results, args),
        *_ramp_rows(results, args),
        "",
        END,
    ]
    return "\n".join(rows)


def _machine(args: argparse.Namespace) -> str:
    """Where and how the figures were measured."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    load = os.getloadavg()[0]
    command = " ".join(["python -m benchmarks.cold_start", *sys.argv[1:]])
    return (
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC on {os.cpu_count()} cores, kernel "
        f"{platform.release()}, server on Python {platform.python_version()}, lamina "
        f"`{commit}`, load average {load:.1f} at the end; command `{command}`."
    )


def _latency_rows(results: Results) -> list[str]:
    rows = []
    for label, starts in (
        ("cold start, lamina (zygote), request → response", results.zygote),
        ("cold start, lamina `--zygotes off` (fresh interpreter), request → response",
         results.fresh),
    ):  # fmt: skip
        if starts is not None:
            total, init = starts.request_to_response, starts.init_duration
            rows.append(f"| {label} | {total.p50_ms:.2f} ms | {total.p99_ms:.2f} ms |")
            rows.append(f"| … its Init Duration | {init.p50_ms:.2f} ms | {init.p99_ms:.2f} ms |")
    if results.snap is not None:
        snap = results.snap
        rows += [
            f"| slow init (json, decimal, 50 ms sleep): cold start of $LATEST | "
            f"{snap.plain.p50_ms:.2f} ms | {snap.plain.p99_ms:.2f} ms |",
            f"| slow init: first invocation of its SnapStart version (restored) | "
            f"{snap.snap_start.p50_ms:.2f} ms | {snap.snap_start.p99_ms:.2f} ms |",
            f"| … its Restore Duration | {snap.restore.p50_ms:.2f} ms | "
            f"{snap.restore.p99_ms:.2f} ms |",
        ]
    labelled = (
        ("first invocation of an alias with provisioned concurrency (READY, idle)",
         results.provisioned_alias),
        ("python-lambda-local (process per invocation, no sandbox)", results.per_invocation),
    )  # fmt: skip
    for label, summary in labelled:
        if summary is not None:
            rows.append(f"| {label} | {summary.p50_ms:.2f} ms | {summary.p99_ms:.2f} ms |")
    return rows


def _warm_rows(results: Results) -> list[str]:
    w = results.warm
    if w is None:
        return []
    baseline = "."
    if results.per_invocation is not None:
        rate = 1000 / results.per_invocation.mean_ms
        baseline = f"; python-lambda-local (a process per invocation): {rate:,.1f}/s."
    return [
        f"| warm invoke, request → response (sequential, {w.invoke.count} requests) | "
        f"{w.invoke.p50_ms:.3f} ms | {w.invoke.p99_ms:.3f} ms |",
        f"| raw HTTP floor: an echo server, the same requests interleaved | "
        f"{w.floor.p50_ms:.3f} ms | {w.floor.p99_ms:.3f} ms |",
        "",
        f"Warm invoke added latency over the raw HTTP floor: **{w.added_p50_ms:.3f} ms** p50. "
        f"Sustained no-op invokes, {w.connections} clients, closed loop, 10 s: "
        f"**{w.rate:,.0f}/s**{baseline}",
    ]


def _memory_rows(results: Results, args: argparse.Namespace) -> list[str]:
    rows = ["", "| measure | lamina (zygote) | `--zygotes off` |", "| --- | --- | --- |"]
    if results.pss_zygote_mb is not None and results.pss_fresh_mb is not None:
        rows.append(
            f"| PSS per idle warm environment ({args.functions} functions) | "
            f"{results.pss_zygote_mb:.1f} MB | {results.pss_fresh_mb:.1f} MB |"
        )
    if results.snap_memory is not None:
        m = results.snap_memory
        rows += [
            "",
            f"PSS per idle environment of a function whose init builds ~7 MB of data "
            f"({m.environments} of each, 512 MB): started from `$LATEST` (init in each) "
            f"**{m.plain_mb:.1f} MB**; restored from its SnapStart version "
            f"**{m.restored_mb:.1f} MB**, plus the template's {m.template_mb:.1f} MB once.",
        ]
    return rows


def _ramp_rows(results: Results, args: argparse.Namespace) -> list[str]:
    rows = []
    for label, r in (("lamina (zygote)", results.ramp), ("`--zygotes off`", results.ramp_fresh)):
        if r is not None:
            rows += [
                "",
                f"0 → {r.requested} concurrent environments of one function (128 MB each), "
                f"{label}: the last one started running after **{r.last_start_s:.2f} s**; "
                f"{r.environments} distinct environments ran, {r.errors} invocations failed, "
                f"all answered after {r.all_answered_s:.2f} s (each held its environment "
                f"until {args.hold:.0f} s after the first request).",
            ]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cold_start")
    parser.add_argument("--cold", type=int, default=40, help="new functions per cold-start row")
    parser.add_argument("--functions", type=int, default=40, help="warm ones for the PSS")
    parser.add_argument("--ramp", type=int, default=1000, help="0 to skip the ramp")
    parser.add_argument("--hold", type=float, default=60.0, help="seconds each ramp call waits")
    parser.add_argument("--runtime", default="python3.12")
    parser.add_argument("--warm", type=int, default=3000, help="sequential warm requests")
    parser.add_argument(
        "--no-ramp-baseline",
        dest="ramp_baseline",
        action="store_false",
        help="skip the ramp with --zygotes off",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("the namespace sandbox needs root", file=sys.stderr)
        return 2
    os.chdir(ROOT)
    results = run(args)
    text = block(results, args)
    print(text)
    if not args.no_write:
        write_block(BEGIN, END, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
