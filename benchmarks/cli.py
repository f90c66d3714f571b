"""``python -m benchmarks``: run the suite, print the table, write docs/benchmarks.md."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.servers import ROOT
from benchmarks.suite import Plan, Results, Suite

DOCS = ROOT / "docs" / "benchmarks.md"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure lamina against a freshly started `lamina serve` and a bare "
        "uvicorn echo server (the raw floor). The default run takes about two minutes.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a ~20 s smoke run with small samples; does not write docs unless --write",
    )
    parser.add_argument("--write", action="store_true", help="write the docs even with --quick")
    parser.add_argument("--no-write", action="store_true", help="do not write the docs")
    parser.add_argument("--output", type=Path, default=DOCS, help=f"(default {DOCS})")
    parser.add_argument("--json", type=Path, help="also write every figure as JSON here")
    parser.add_argument(
        "--concurrency",
        type=lambda s: tuple(int(n) for n in s.split(",")),
        help="comma-separated client counts for the throughput runs (default 8,32)",
    )
    parser.add_argument("--duration", type=float, help="seconds measured per load run")
    parser.add_argument("--client-processes", type=int, help="load-generator processes (1)")
    parser.add_argument("--cold", type=int, help="functions for the cold-start measure")
    parser.add_argument("--runtime", help="function runtime (default python3.12)")
    parser.add_argument(
        "--wrk", action="store_true", help="cross-check each load run with wrk, if installed"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (server logs, data)"
    )
    return parser.parse_args(argv)


def plan_from(args: argparse.Namespace) -> Plan:
    plan = Plan.quick() if args.quick else Plan.full()
    changes: dict[str, Any] = {}
    if args.concurrency:
        changes["concurrency"] = args.concurrency
    if args.duration:
        changes["load_duration_s"] = args.duration
    if args.client_processes:
        changes["client_processes"] = args.client_processes
    if args.cold:
        changes["cold_functions"] = args.cold
    if args.runtime:
        changes["runtime"] = args.runtime
    if args.wrk:
        changes["wrk"] = True
    return dataclasses.replace(plan, **changes)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = plan_from(args)
    command = shlex.join([".venv/bin/python", "-m", "benchmarks", *sys.argv[1:]])
    work_dir = Path(tempfile.mkdtemp(prefix="lamina-bench-"))
    try:
        results = Suite(plan, work_dir).run()
    finally:
        if args.keep:
            print(f"work directory kept: {work_dir}", file=sys.stderr)
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    print(report.terminal(results, command))
    if args.json:
        args.json.write_text(json.dumps(to_json(results), indent=2, default=str))
    if not args.no_write and (args.write or not args.quick):
        report.write_docs(args.output, results, command)
        print(f"\nwrote {args.output}")
    return 1 if results.failures else 0


def to_json(results: Results) -> dict[str, Any]:
    doc = dataclasses.asdict(results)
    for run in [*doc["floor_load"].values(), *doc["invoke_load"].values()]:
        run["rate"] = run["result"]["completed"] / run["result"]["duration_s"]
    return doc
