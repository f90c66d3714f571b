"""AWS's Node.js runtime interface client on lamina, next to lamina's own Node.js runtime.

The same no-op handler runs as ``nodejs20.x`` (lamina's runtime on the control socket) and as
``provided.al2023`` with ``aws-lambda-ric`` (the npm package, built once and cached by
``tests/npm_packages.py``) speaking the Runtime API through the relay. Cold: ``--cold`` new
functions, each invoked once (request to response, and the REPORT line's Init Duration);
warm: sequential invocations of one warm function. Prints a table; writes nothing.

    python -m benchmarks.node_ric [--cold 10] [--warm 300]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.npm_packages import aws_lambda_ric, function_zip

from benchmarks import measures, rawhttp
from benchmarks.servers import lamina_server
from benchmarks.stats import Summary

NODE_RUNTIME = "nodejs20.x"
BOOTSTRAP = (
    '#!/bin/sh\nexec node "$LAMBDA_TASK_ROOT/node_modules/aws-lambda-ric/index.mjs" "$_HANDLER"\n'
)


def packages() -> dict[str, tuple[str, bytes]]:
    """Runtime and package of each row."""
    files = {"bootstrap": BOOTSTRAP, "handler.js": measures.NOOP_NODE_SOURCE}
    ric = function_zip(aws_lambda_ric(), files, executable=("bootstrap",))
    node = measures.handler_zip("", NODE_RUNTIME)
    return {
        f"{NODE_RUNTIME} (lamina's runtime)": (NODE_RUNTIME, node),
        "provided.al2023 + aws-lambda-ric": ("provided.al2023", ric),
    }


def deploy(client: Any, runtime: str, code: bytes, count: int) -> list[str]:
    names = [f"bench-ric-{i}-{time.time_ns() % 10**9}" for i in range(count)]
    for name in names:
        measures.create_function(client, name, code, runtime)
    for name in names:
        measures.wait_active(client, name)
    return names


def cold(port: int, names: list[str]) -> tuple[Summary, Summary]:
    """Request to response and Init Duration of each function's first invocation."""
    latencies: list[float] = []
    inits: list[float] = []
    with rawhttp.Connection(port) as conn:
        for name in names:
            seconds, response = conn.timed(measures.invoke_request(name, tail=True))
            if response.status != 200 or "x-amz-function-error" in response.headers:
                raise measures.BenchmarkError(f"{name}: {response.status} {response.body[:300]!r}")
            latencies.append(seconds)
            init = measures.init_duration_s(response)
            if init is not None:
                inits.append(init)
    return Summary.of(latencies), Summary.of(inits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=10, help="new functions per row")
    parser.add_argument("--warm", type=int, default=300, help="measured warm invocations")
    args = parser.parse_args()
    rows = packages()
    with tempfile.TemporaryDirectory(prefix="lamina-ric-bench-") as tmp:
        server = lamina_server(Path(tmp))
        server.start()
        try:
            client = measures.lambda_client(server.endpoint)
            print("| runtime | cold p50 / p99 | Init Duration p50 | warm p50 / p99 |")
            print("| --- | --- | --- | --- |")
            for label, (runtime, code) in rows.items():
                measures.first_invoke(server.port, deploy(client, runtime, code, 1)[0])
                total, init = cold(server.port, deploy(client, runtime, code, args.cold))
                warm_name = deploy(client, runtime, code, 1)[0]
                raw = measures.invoke_request(warm_name)
                warm = measures.sequential_latency(server.port, raw, 20, args.warm, label)
                print(
                    f"| {label} | {total.p50_ms:.1f} / {total.p99_ms:.1f} ms "
                    f"| {init.p50_ms:.1f} ms | {warm.p50_ms:.2f} / {warm.p99_ms:.2f} ms |"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
