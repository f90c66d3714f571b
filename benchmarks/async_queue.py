"""Durable asynchronous invocations: accepts per second, and latency from accept to run.

``python -m benchmarks.async_queue`` starts ``lamina serve`` on a fresh data directory and
measures:

- **accepts/s**: clients (separate threads, keep-alive raw HTTP) sending ``Event`` invocations
  of a no-op function for a fixed time; each 202 means the event is committed to
  ``queue.db`` with ``synchronous=FULL`` (on disk), while the function keeps running them;
- **accept → run latency**: events sent one every 20 ms; the time from sending each to the
  server's timestamp on the line the function printed when it ran.

It rewrites the block between the ``async-queue`` markers of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import http.client
import io
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

from benchmarks import measures, rawhttp
from benchmarks.sandbox_cost import write_block
from benchmarks.servers import lamina_server
from benchmarks.stats import Summary

BEGIN, END = "<!-- async-queue -->", "<!-- /async-queue -->"
PATH = "/2015-03-31/functions/async-bench/invocations"
SOURCE = "def handler(event, context):\n    print('ran', context.aws_request_id)\n"


def _deploy(endpoint: str) -> None:
    client = measures.lambda_client(endpoint)
    client.create_function(
        FunctionName="async-bench", Runtime="python3.12", Role=measures.ROLE,
        Handler="handler.handler", Code={"ZipFile": _zip()}, MemorySize=measures.MEMORY_MB,
    )  # fmt: skip
    measures.wait_active(client, "async-bench")


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", SOURCE)
    return buffer.getvalue()


def _send(port: int, until: float, accepted: list[tuple[str, float]], errors: list[int]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.perf_counter() < until:
        sent = time.time()
        connection.request("POST", PATH, body=b"{}", headers=_event_headers(port))
        response = connection.getresponse()
        response.read()
        if response.status == 202:
            accepted.append((response.headers["x-amzn-RequestId"], sent))
        else:
            errors.append(response.status)
    connection.close()


def _event_headers(port: int) -> dict[str, str]:
    """Signed headers of an Event invocation (valid for the five minutes a measure takes)."""
    headers = {"X-Amz-Invocation-Type": "Event", "Content-Type": "application/json"}
    return {**headers, **rawhttp.sign("POST", f"127.0.0.1:{port}", PATH, b"{}", headers)}


def accepts_per_second(port: int, clients: int, seconds: float) -> tuple[float, int]:
    accepted: list[tuple[str, float]] = []
    errors: list[int] = []
    until = time.perf_counter() + seconds
    threads = [
        threading.Thread(target=_send, args=(port, until, accepted, errors)) for _ in range(clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(accepted) / (time.perf_counter() - started), len(errors)


def latency(endpoint: str, port: int, count: int) -> Summary:
    sent: dict[str, float] = {}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(count):
        before = time.time()
        connection.request("POST", PATH, body=b"{}", headers=_event_headers(port))
        response = connection.getresponse()
        response.read()
        sent[response.headers["x-amzn-RequestId"]] = before
        time.sleep(0.02)
    connection.close()
    ran = _ran_at(endpoint, set(sent))
    return Summary.of([ran[rid] - sent[rid] for rid in sent if rid in ran])


def _ran_at(endpoint: str, wanted: set[str], timeout_s: float = 60) -> dict[str, float]:
    import boto3

    logs = boto3.client(
        "logs", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    found: dict[str, float] = {}
    deadline = time.monotonic() + timeout_s
    while set(found) < wanted and time.monotonic() < deadline:
        request: dict[str, Any] = {
            "logGroupName": "/aws/lambda/async-bench",
            "filterPattern": "ran",
        }
        while True:
            page = logs.filter_log_events(**request)
            for event in page["events"]:
                found[event["message"].split()[1]] = event["timestamp"] / 1000
            if "nextToken" not in page:
                break
            request["nextToken"] = page["nextToken"]
        time.sleep(0.2)
    return {k: v for k, v in found.items() if k in wanted}


def render(rates: dict[int, tuple[float, int]], seconds: float, lat: Summary) -> str:
    rows = [
        BEGIN,
        "### Durable asynchronous invocations",
        "",
        f"`python -m benchmarks.async_queue` ({time.strftime('%Y-%m-%d %H:%M')} UTC): a no-op "
        f"function at {measures.MEMORY_MB} MB; each accept is committed with `synchronous=FULL`.",
        "",
        "| measure | result | target (DESIGN.md §4) |",
        "| --- | --- | --- |",
    ]
    for clients, (rate, errors) in rates.items():
        rows.append(
            f"| accepts/s, {clients} clients, {seconds:.0f} s | {rate:,.0f}/s ({errors} errors) "
            "| ≥ 2,000/s |"
        )
    rows.append(
        f"| accept → run latency p50 / p99 ({lat.count} events, one per 20 ms) | "
        f"{lat.p50_ms:.1f} ms / {lat.p99_ms:.1f} ms | — |"
    )
    rows.append(END)
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.async_queue")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lamina-async-bench-") as tmp:
        server = lamina_server(Path(tmp))
        server.start()
        try:
            _deploy(server.endpoint)
            rates = {n: accepts_per_second(server.port, n, args.seconds) for n in (8, 32)}
            time.sleep(2)  # let the backlog drain before measuring latency
            lat = latency(server.endpoint, server.port, args.events)
        finally:
            server.stop()
    block = render(rates, args.seconds, lat)
    print(block)
    if not args.no_write:
        write_block(BEGIN, END, block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
