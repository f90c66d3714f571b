"""A small closed-loop HTTP load generator: N keep-alive connections, one request in flight each.

The parent (``run_load``) spreads the connections over a few worker processes, separate from the
server under test and from the harness; each worker (``python -m benchmarks.load``) drives its
connections with asyncio protocols on uvloop, which costs the client a few microseconds per
request. Everyone starts at the same instant, sends for ``warmup`` seconds unmeasured, then
counts what completes in the next ``duration`` seconds. A worker prints its tally as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

from benchmarks import rawhttp
from benchmarks.servers import ROOT, child_environment
from benchmarks.stats import Summary

SPAWN_SLACK_S = 1.0
"""Time given to the worker processes to start before the load begins."""
_GRACE_S = 30.0
"""How long a worker waits past the end for a last response before giving up on it."""


@dataclass
class Tally:
    measure_from: float
    stop_at: float
    completed: int = 0
    warmup_completed: int = 0
    late: int = 0
    """Responses that arrived after the end of the window (requests still in flight then)."""
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    warmup_errors: Counter[str] = field(default_factory=Counter)
    error_sample: str = ""

    def record(self, sent_at: float, now: float, status: int, body: bytes) -> None:
        if 200 <= status < 300:
            if now >= self.stop_at:
                self.late += 1
            elif now >= self.measure_from:
                self.completed += 1
                self.latencies.append(now - sent_at)
            else:
                self.warmup_completed += 1
            return
        self.error(f"HTTP {status}", now, body.decode(errors="replace")[:300])

    def error(self, kind: str, now: float, sample: str = "") -> None:
        (self.errors if now >= self.measure_from else self.warmup_errors)[kind] += 1
        if not self.error_sample:
            self.error_sample = f"{kind}: {sample}"


class _Client(asyncio.Protocol):
    """One keep-alive connection: send, wait for the whole response, send again."""

    def __init__(self, request: bytes, tally: Tally, done: asyncio.Future[None]) -> None:
        self.request = request
        self.tally = tally
        self.done = done
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.sent_at = 0.0
        self.in_flight = False
        self.status = 0
        self.body_at = -1
        self.length = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.in_flight = True
        self.sent_at = time.monotonic()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.body_at < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            try:
                self.status, headers = rawhttp.parse_head(bytes(self.buffer[:end]))
                self.length = int(headers.get("content-length", "0"))
            except (rawhttp.ProtocolError, ValueError) as exc:
                self._fail(f"bad response: {exc}")
                return
            self.body_at = end + 4
        if len(self.buffer) < self.body_at + self.length:
            return
        body = bytes(self.buffer[self.body_at : self.body_at + self.length])
        del self.buffer[: self.body_at + self.length]
        self.body_at = -1
        self.in_flight = False
        now = time.monotonic()
        self.tally.record(self.sent_at, now, self.status, body)
        if now < self.tally.stop_at:
            self._send()
        else:
            self._close()

    def _fail(self, kind: str) -> None:
        self.tally.error(kind, time.monotonic())
        self.in_flight = False
        self._close()

    def _close(self) -> None:
        assert self.transport is not None
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.in_flight and time.monotonic() < self.tally.stop_at:
            self.tally.error("connection lost", time.monotonic(), str(exc or "closed by server"))
        if not self.done.done():
            self.done.set_result(None)


async def _drive_connection(port: int, request: bytes, tally: Tally) -> None:
    """Keep one connection busy until the end, reconnecting if the server drops it."""
    loop = asyncio.get_running_loop()
    while time.monotonic() < tally.stop_at:
        done: asyncio.Future[None] = loop.create_future()
        try:
            transport, _ = await loop.create_connection(
                lambda done=done: _Client(request, tally, done),  # type: ignore[misc]
                rawhttp.HOST,
                port,
            )
        except OSError as exc:
            tally.error("connect failed", time.monotonic(), str(exc))
            await asyncio.sleep(0.01)
            continue
        try:
            await asyncio.wait_for(done, tally.stop_at - time.monotonic() + _GRACE_S)
        except TimeoutError:
            tally.error("no response by the end", time.monotonic())
            transport.abort()
            return


async def _worker(args: argparse.Namespace) -> Tally:
    request = rawhttp.build_request(args.method, args.path, args.body.encode())
    measure_from = args.start_at + args.warmup
    tally = Tally(measure_from=measure_from, stop_at=measure_from + args.duration)
    await asyncio.sleep(max(0.0, args.start_at - time.monotonic()))
    await asyncio.gather(
        *(_drive_connection(args.port, request, tally) for _ in range(args.connections))
    )
    return tally


def worker_main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--method", default="POST")
    parser.add_argument("--path", required=True)
    parser.add_argument("--body", default="{}")
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--start-at", type=float, required=True, help="time.monotonic() value")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args(argv)
    try:
        import uvloop

        tally = uvloop.run(_worker(args))
    except ImportError:
        tally = asyncio.run(_worker(args))
    out = {
        "completed": tally.completed,
        "warmup_completed": tally.warmup_completed,
        "late": tally.late,
        "latencies_us": [round(s * 1e6) for s in tally.latencies],
        "errors": dict(tally.errors),
        "warmup_errors": dict(tally.warmup_errors),
        "error_sample": tally.error_sample,
    }
    json.dump(out, sys.stdout)


@dataclass(frozen=True)
class LoadResult:
    connections: int
    processes: int
    duration_s: float
    completed: int
    late: int
    """Successful responses that arrived after the window closed."""
    latency: Summary
    errors: dict[str, int]
    warmup_errors: dict[str, int]
    error_sample: str

    @property
    def rate(self) -> float:
        """Successful requests per second over the measured window."""
        return self.completed / self.duration_s

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def split(total: int, parts: int) -> list[int]:
    """``total`` spread as evenly as possible over at most ``parts`` non-empty shares."""
    parts = max(1, min(parts, total))
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def start_time() -> float:
    """A start far enough ahead for the worker processes to be up by then."""
    return time.monotonic() + SPAWN_SLACK_S


def _worker_argv(
    port: int,
    path: str,
    body: str,
    connections: int,
    start_at: float,
    warmup_s: float,
    duration_s: float,
) -> list[str]:
    return [
        sys.executable, "-m", "benchmarks.load", "--port", str(port), "--path", path,
        "--body", body, "--connections", str(connections), "--start-at", repr(start_at),
        "--warmup", str(warmup_s), "--duration", str(duration_s),
    ]  # fmt: skip


def run_load(
    port: int,
    path: str,
    connections: int,
    *,
    processes: int = 1,
    warmup_s: float = 1.0,
    duration_s: float = 5.0,
    body: str = "{}",
    start_at: float | None = None,
) -> LoadResult:
    """``connections`` closed-loop clients over ``processes`` worker processes; merged tally.

    The load starts at ``start_at`` (a time.monotonic value; by default in a second), and is
    measured from ``start_at + warmup_s`` for ``duration_s``.
    """
    if start_at is None:
        start_at = start_time()
    workers = [
        subprocess.Popen(
            _worker_argv(port, path, body, share, start_at, warmup_s, duration_s),
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=child_environment(),
        )
        for share in split(connections, processes)
    ]
    tallies: list[dict[str, Any]] = []
    deadline = start_at + warmup_s + duration_s + 2 * _GRACE_S
    for worker in workers:
        out, _ = worker.communicate(timeout=max(1.0, deadline - time.monotonic()))
        if worker.returncode != 0:
            raise RuntimeError(f"load worker failed with status {worker.returncode}")
        tallies.append(json.loads(out))
    errors: Counter[str] = Counter()
    warmup_errors: Counter[str] = Counter()
    for tally in tallies:
        errors.update(tally["errors"])
        warmup_errors.update(tally["warmup_errors"])
    return LoadResult(
        connections=connections,
        processes=len(workers),
        duration_s=duration_s,
        completed=sum(t["completed"] for t in tallies),
        late=sum(t["late"] for t in tallies),
        latency=Summary.of([us / 1e6 for t in tallies for us in t["latencies_us"]]),
        errors=dict(errors),
        warmup_errors=dict(warmup_errors),
        error_sample=next((t["error_sample"] for t in tallies if t["error_sample"]), ""),
    )


if __name__ == "__main__":
    worker_main()
