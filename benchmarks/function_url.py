"""Warm latency of a function URL request, next to Invoke of the same function.

``python -m benchmarks.function_url [--count N]`` starts ``lamina serve`` on a fresh data
directory, deploys the no-op handler (it returns its event) with a public URL (AuthType NONE and
the policy statement that opens it), and measures, interleaved over one keep-alive connection
each so that all see the same machine conditions:

- **Invoke**: ``POST /2015-03-31/functions/NAME/invocations``, SigV4-signed as boto3 sends it;
- **URL, host name**: ``POST /`` with ``Host: <url-id>.lambda-url.us-east-1.localhost:PORT``;
- **URL, path form**: ``POST /_lamina/urls/<url-id>/``.

The URL's event is the 2.0 event (about 1 KB with the request's headers), so its requests move
more bytes both ways than Invoke's 11-byte event. Prints the distributions in milliseconds and
rewrites the block between the ``function-url`` markers of docs/benchmarks.md (unless
``--no-write``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks import measures
from benchmarks.sandbox_cost import write_block
from benchmarks.servers import lamina_server
from benchmarks.stats import Summary

NAME = "url-bench"
BEGIN, END = "<!-- function-url -->", "<!-- /function-url -->"


def _deploy(endpoint: str) -> str:
    """The function's URL id, once the function and its public URL exist."""
    client = measures.lambda_client(endpoint)
    measures.create_function(client, NAME, measures.handler_zip(), "python3.12")
    measures.wait_active(client, NAME)
    url = client.create_function_url_config(FunctionName=NAME, AuthType="NONE")["FunctionUrl"]
    client.add_permission(
        FunctionName=NAME, StatementId="public", Action="lambda:InvokeFunctionUrl",
        Principal="*", FunctionUrlAuthType="NONE",
    )  # fmt: skip
    return str(url).split("//", 1)[1].split(".", 1)[0]


def _url_request(path: str, host: str) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(measures.EVENT)}\r\n\r\n"
    )
    return head.encode() + measures.EVENT


def run(count: int, warmup: int) -> dict[str, Summary]:
    with tempfile.TemporaryDirectory(prefix="lamina-url-bench-") as work:
        server = lamina_server(Path(work))
        server.start()
        try:
            url_id = _deploy(server.endpoint)
            port = server.port
            host = f"{url_id}.lambda-url.us-east-1.localhost:{port}"
            targets = [
                (port, measures.invoke_request(NAME), "Invoke"),
                (port, _url_request("/", host), "URL, host name"),
                (port, _url_request(f"/_lamina/urls/{url_id}/", f"127.0.0.1:{port}"), "URL, path"),
            ]
            summaries = measures.interleaved_latency(targets, warmup, count)
        finally:
            server.stop()
    return {what: s for (_, _, what), s in zip(targets, summaries, strict=True)}


def render(results: dict[str, Summary], count: int) -> str:
    rows = [
        BEGIN,
        "### Function URLs, warm",
        "",
        f"`python -m benchmarks.function_url` ({time.strftime('%Y-%m-%d %H:%M')} UTC): the no-op "
        f"function at {measures.MEMORY_MB} MB, {count} sequential requests per target over one "
        "keep-alive connection each, interleaved; the URL is public (AuthType NONE).",
        "",
        "| target | p50 ms | p90 ms | p99 ms | mean ms |",
        "| --- | --- | --- | --- | --- |",
    ]
    for what, s in results.items():
        rows.append(
            f"| {what} | {s.p50_ms:.3f} | {s.p90_ms:.3f} | {s.p99_ms:.3f} | {s.mean_ms:.3f} |"
        )
    rows.append(END)
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.function_url")
    parser.add_argument("--count", type=int, default=2000, help="measured requests per target")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests first")
    parser.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args(argv)
    results = run(args.count, args.warmup)
    print(f"{'target':<16} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for what, s in results.items():
        print(f"{what:<16} {s.p50_ms:8.3f} {s.p90_ms:8.3f} {s.p99_ms:8.3f} {s.mean_ms:8.3f}")
    if not args.no_write:
        write_block(BEGIN, END, render(results, args.count))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
