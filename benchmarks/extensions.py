"""What external extensions cost: cold starts with one, and warm invokes with one on INVOKE.

``python -m benchmarks.extensions`` deploys no-op Python functions without layers and with a
layer holding one extension — a shell script using curl (the lightest kind one can write
without compiling) or a Python script — and measures, on one ``lamina serve``:

- **cold start** request → response and its Init Duration (which includes starting the
  extensions and their registration), extensions subscribed to SHUTDOWN only (so the REPORT
  line, with the Init Duration, is in the log tail);
- **warm invoke** sequential latency of functions whose extension subscribes to INVOKE, next
  to one without: an environment takes the next event only after the previous one's
  post-runtime phase (the extension's next ``event/next`` call); an event that comes sooner
  goes to another environment, a cold start, as on AWS.

Needs root (the namespace sandbox). Prints the figures (docs/extensions.md quotes them).
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from benchmarks import measures, rawhttp
from benchmarks.cold_start import lamina
from benchmarks.stats import Summary

SHELL_EXTENSION = """#!/bin/sh
API="http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension"
ID=$(curl -sS -D - -o /dev/null -X POST "$API/register" \\
  -H "Lambda-Extension-Name: $(basename "$0")" -d '{"events": EVENTS}' |
  tr -d '\\r' | sed -n 's/^[Ll]ambda-[Ee]xtension-[Ii]dentifier: //p')
while true; do
  curl -sS -H "Lambda-Extension-Identifier: $ID" "$API/event/next" | grep -q SHUTDOWN && exit 0
done
"""
PYTHON_EXTENSION = """#!/usr/bin/python3 -S
import http.client, json, os, sys
api = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
api.request("POST", "/2020-01-01/extension/register", json.dumps({"events": EVENTS}),
            {"Lambda-Extension-Name": os.path.basename(sys.argv[0])})
answer = api.getresponse()
answer.read()
me = {"Lambda-Extension-Identifier": answer.headers["Lambda-Extension-Identifier"]}
while True:
    api.request("GET", "/2020-01-01/extension/event/next", headers=me)
    if b"SHUTDOWN" in api.getresponse().read():
        sys.exit(0)
"""


def layer_zip(name: str, source: str, events: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(f"extensions/{name}")
        info.external_attr = 0o755 << 16
        archive.writestr(info, source.replace("EVENTS", str(events).replace("'", '"')))
    return buffer.getvalue()


def deploy(client: Any, name: str, layer: str | None) -> None:
    client.create_function(
        FunctionName=name, Runtime="python3.12", Role=measures.ROLE, Handler="handler.handler",
        Code={"ZipFile": measures.handler_zip(name)}, MemorySize=measures.MEMORY_MB,
        Layers=[layer] if layer else [],
    )  # fmt: skip
    measures.wait_active(client, name)


def cold(port: int, client: Any, layer: str | None, count: int) -> tuple[Summary, Summary]:
    names = [f"ext-cold-{i}-{time.time_ns() % 10**9}" for i in range(count)]
    for name in names:
        deploy(client, name, layer)
    latencies, inits = [], []
    with rawhttp.Connection(port) as conn:
        for name in names:
            seconds, response = conn.timed(measures.invoke_request(name, tail=True))
            latencies.append(seconds)
            init = measures.init_duration_s(response)
            if init is not None:
                inits.append(init)
    for name in names:
        client.delete_function(FunctionName=name)
    return Summary.of(latencies), Summary.of(inits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", type=int, default=10, help="functions per cold-start measure")
    parser.add_argument("--warm", type=int, default=300, help="measured warm invocations")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lamina-ext-bench-") as tmp:
        server = lamina(Path(tmp), "extensions")
        server.start()
        try:
            run(server.port, measures.lambda_client(server.endpoint), args)
        finally:
            server.stop()


def run(port: int, client: Any, args: argparse.Namespace) -> None:
    def publish(name: str, source: str, events: list[str]) -> str:
        layer = client.publish_layer_version(
            LayerName=name, Content={"ZipFile": layer_zip(name, source, events)}
        )
        return str(layer["LayerVersionArn"])

    deploy(client, "ext-warm-up", None)
    measures.first_invoke(port, "ext-warm-up")  # the runtime's zygote starts here, once
    rows = []
    for label, layer in (
        ("no extension", None),
        ("one shell extension (curl)", publish("sh-shutdown", SHELL_EXTENSION, ["SHUTDOWN"])),
        ("one Python extension", publish("py-shutdown", PYTHON_EXTENSION, ["SHUTDOWN"])),
    ):
        latency, init = cold(port, client, layer, args.cold)
        rows.append(f"| cold start, {label} | {latency.p50_ms:.2f} / {latency.p99_ms:.2f} ms "
                    f"| {init.p50_ms:.2f} / {init.p99_ms:.2f} ms |")  # fmt: skip
    deploy(client, "ext-warm-plain", None)
    deploy(client, "ext-warm-py", publish("py-invoke", PYTHON_EXTENSION, ["INVOKE"]))
    deploy(client, "ext-warm-sh", publish("sh-invoke", SHELL_EXTENSION, ["INVOKE"]))
    warm_labels = (
        "no extension",
        "one Python extension on INVOKE (one keep-alive connection)",
        "one shell extension on INVOKE (a curl per event)",
    )
    warm = measures.interleaved_latency(
        [
            (port, measures.invoke_request(name), label)
            for name, label in zip(
                ("ext-warm-plain", "ext-warm-py", "ext-warm-sh"), warm_labels, strict=True
            )
        ],
        warmup=20,
        count=args.warm,
    )
    print("| measure | p50 / p99 | Init Duration p50 / p99 |\n| --- | --- | --- |")
    print("\n".join(rows))
    for label, summary in zip(warm_labels, warm, strict=True):
        print(f"| warm invoke, {label} | {summary.p50_ms:.3f} / {summary.p99_ms:.3f} ms | — |")


if __name__ == "__main__":
    main()
