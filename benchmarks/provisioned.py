"""``python -m benchmarks.provisioned``: the first invocation of a provisioned version against
an on-demand cold start, on one server.

For each of ``--functions`` functions: publish version 1, then either put a provisioned
concurrency configuration of 1 and wait for READY (provisioned), or not (on-demand); then time
its first invocation of version 1 (request to response over a fresh connection, with the log
tail, whose REPORT line says whether an init ran).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import measures
from benchmarks.servers import ServerProcess, lamina_server
from benchmarks.stats import Summary

_READY_TIMEOUT_S = 60.0


def _invoke_version(port: int, name: str) -> tuple[float, float | None]:
    return measures.first_invoke(port, f"{name}:1")


def _published(client: Any, name: str, tag: str, runtime: str) -> None:
    measures.create_function(client, name, measures.handler_zip(tag, runtime), runtime)
    measures.wait_active(client, name)
    client.publish_version(FunctionName=name)
    client.get_waiter("function_active_v2").wait(FunctionName=name, Qualifier="1")


def _ready(client: Any, name: str, qualifier: str = "1") -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        config = client.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        if config["Status"] == "READY":
            return
        if config["Status"] == "FAILED":
            raise measures.BenchmarkError(f"provisioning {name} failed: {config}")
        time.sleep(0.01)
    raise measures.BenchmarkError(f"provisioning {name} did not finish")


def alias_first_invocations(server: ServerProcess, count: int, runtime: str) -> Summary:
    """The first invocation of ``count`` aliases, each with provisioned concurrency 1 that
    became READY (and was left idle long enough to be frozen), request to response."""
    client = measures.lambda_client(server.endpoint)
    stamp = time.time_ns() % 10**9
    samples = []
    for i in range(count):
        name = f"provisioned-alias-{i}-{stamp}"
        _published(client, name, name, runtime)
        client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1
        )
        _ready(client, name, "live")
        time.sleep(1.2)  # frozen when idle, as a provisioned one waits
        seconds, init = measures.first_invoke(server.port, f"{name}:live")
        if init is not None:
            raise measures.BenchmarkError(f"{name}:live ran an init on its first invocation")
        samples.append(seconds)
    return Summary.of(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.provisioned")
    parser.add_argument("--functions", type=int, default=20)
    parser.add_argument("--runtime", default="python3.12")
    args = parser.parse_args(argv)
    samples: dict[str, list[float]] = {"on-demand": [], "provisioned": []}
    inits: dict[str, int] = {"on-demand": 0, "provisioned": 0}
    with tempfile.TemporaryDirectory(prefix="lamina-provisioned-bench-") as tmp:
        server = lamina_server(Path(tmp))
        server.start()
        try:
            client = measures.lambda_client(server.endpoint)
            stamp = time.time_ns() % 10**9
            for i in range(args.functions):
                for kind in samples:
                    name = f"{kind}-{i}-{stamp}"
                    _published(client, name, f"{kind} {i} {stamp}", args.runtime)
                    if kind == "provisioned":
                        client.put_provisioned_concurrency_config(
                            FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
                        )
                        _ready(client, name)
                        time.sleep(1.2)  # frozen when idle, as a provisioned one waits
                    seconds, init = _invoke_version(server.port, name)
                    samples[kind].append(seconds)
                    inits[kind] += init is not None
        finally:
            server.stop()
    print(f"first invocation of version 1, {args.functions} functions each, {args.runtime}:")
    for kind, values in samples.items():
        summary = Summary.of(values)
        print(
            f"  {kind:12} p50 {summary.p50_ms:.2f} ms, p99 {summary.p99_ms:.2f} ms "
            f"({inits[kind]} of {len(values)} REPORT lines with Init Duration)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
