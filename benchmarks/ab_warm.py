"""``python -m benchmarks.ab_warm --baseline SRC``: warm invoke latency, this tree against another.

Starts two ``lamina serve`` at once, one from this repository's ``src`` and one from
``--baseline`` (another checkout's ``src``, e.g. ``git worktree add /tmp/base main``), deploys
the same no-op function on both and measures sequential warm invokes in alternating batches
(``measures.interleaved_latency``), so both see the same load on a shared machine: a fair
before/after for changes on the invoke path.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks import measures
from benchmarks.servers import ROOT, ServerProcess, free_port

_RUN = "import sys, runpy; sys.path.insert(0, sys.argv.pop(1)); runpy.run_module('lamina', run_name='__main__')"  # noqa: E501


def server(work: Path, name: str, src: Path) -> ServerProcess:
    port = free_port()
    argv = [
        sys.executable, "-c", _RUN, str(src), "serve", "--port", str(port),
        "--data-dir", str(work / f"{name}-data"),
    ]  # fmt: skip
    return ServerProcess(argv, port, work / f"{name}.log", work / f"{name}-pycache")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab_warm")
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout's src/")
    parser.add_argument("--count", type=int, default=4000, help="measured invokes per server")
    parser.add_argument("--rounds", type=int, default=40, help="alternating batches")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lamina-ab-") as tmp:
        work = Path(tmp)
        servers = {
            "this tree": server(work, "current", ROOT / "src"),
            "baseline": server(work, "baseline", args.baseline.resolve()),
        }
        try:
            targets = []
            for label, process in servers.items():
                process.start()
                client = measures.lambda_client(process.endpoint)
                measures.create_function(client, "noop", measures.handler_zip(), "python3.12")
                measures.wait_active(client, "noop")
                measures.first_invoke(process.port, "noop")
                targets.append((process.port, measures.invoke_request("noop"), label))
            results = measures.interleaved_latency(targets, 300, args.count, args.rounds)
        finally:
            for process in servers.values():
                process.stop()
    for (_, _, label), summary in zip(targets, results, strict=True):
        print(f"{label:10} warm invoke p50 {summary.p50_ms:.3f} ms, p99 {summary.p99_ms:.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
