"""Cold starts with each network mode, interleaved, so that the machine's load weighs alike.

``python -m benchmarks.network_cold_start`` (root) starts one server with ``--network none``
and one with ``--network egress``, then, round after round, deploys a few new functions on
each and invokes each once (request sent to response read, over one keep-alive connection,
as ``benchmarks.cold_start`` does). On a shared machine, interleaving is what makes the two
comparable: a run of one mode after the other measures the load as much as the network step.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks import measures
from benchmarks.cold_start import lamina
from benchmarks.stats import Summary

MODES = ("none", "egress")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.network_cold_start")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--per-round", type=int, default=5)
    parser.add_argument("--runtime", default="python3.12")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lamina-network-bench-") as tmp:
        servers = {mode: lamina(Path(tmp), mode, "--network", mode) for mode in MODES}
        samples: dict[str, list[float]] = {mode: [] for mode in MODES}
        try:
            for server in servers.values():
                server.start()
                client = measures.lambda_client(server.endpoint)
                zipped = measures.handler_zip("warm-up")
                measures.create_function(client, "warm-up", zipped, args.runtime)
                measures.wait_active(client, "warm-up")
                measures.first_invoke(server.port, "warm-up")  # starts the runtime's zygote
            for _ in range(args.rounds):
                for mode, server in servers.items():
                    client = measures.lambda_client(server.endpoint)
                    starts = measures.cold_starts(server.port, client, args.per_round, args.runtime)
                    samples[mode] += [ms / 1000 for ms in starts.samples_ms]
        finally:
            for server in servers.values():
                server.stop()
    print("| network | cold start p50 | p99 | samples |\n| --- | --- | --- | --- |")
    for mode, values in samples.items():
        summary = Summary.of(values)
        print(f"| {mode} | {summary.p50_ms:.2f} ms | {summary.p99_ms:.2f} ms | {len(values)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
