"""Warm invocations of one no-op function: added latency over a raw HTTP echo server, measured
in alternating batches so both see the same machine, and sustained invokes per second with a
closed-loop load; part of ``python -m benchmarks.cold_start``'s one run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmarks import measures
from benchmarks.servers import ServerProcess, echo_server
from benchmarks.stats import Summary

NAME = "warm-noop"


@dataclass(frozen=True)
class WarmFigures:
    invoke: Summary
    floor: Summary
    rate: float
    """Successful no-op invokes per second, ``connections`` clients, closed loop."""
    connections: int

    @property
    def added_p50_ms(self) -> float:
        return self.invoke.p50_ms - self.floor.p50_ms


def warm_figures(
    server: ServerProcess, work: Path, runtime: str, requests: int, connections: int = 8
) -> WarmFigures:
    client = measures.lambda_client(server.endpoint)
    measures.create_function(client, NAME, measures.handler_zip(NAME, runtime), runtime)
    measures.wait_active(client, NAME)
    raw = measures.invoke_request(NAME)
    echo = echo_server(work)
    echo.start()
    try:
        invoke, floor = measures.interleaved_latency(
            [(server.port, raw, "invoke"), (echo.port, raw, "echo")], 500, requests
        )
    finally:
        echo.stop()
    load = measures.load_run(
        server,
        measures.invoke_path(NAME),
        connections,
        processes=1,
        warmup_s=2.0,
        duration_s=10.0,
    )
    return WarmFigures(invoke, floor, load.result.rate, connections)
