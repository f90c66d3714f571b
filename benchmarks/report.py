"""Turning Results into the table: terminal text and docs/benchmarks.md.

Targets are DESIGN.md §4's. The "vs floor" column divides a measure by the same measure of the
bare echo server (latency: how many times slower; throughput: what fraction of the floor's).
"""

from __future__ import annotations

import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from benchmarks.measures import LoadRun
from benchmarks.servers import ROOT
from benchmarks.stats import Summary
from benchmarks.suite import Results

NOTES_HEADING = "## Notes"
"""Everything from this heading on in docs/benchmarks.md is hand-written and kept on rewrite."""

PACKAGES = ("uvicorn", "uvloop", "httptools", "boto3", "lamina")


@dataclass(frozen=True)
class Row:
    measure: str
    result: str
    target: str = "—"
    verdict: str = "—"
    vs_floor: str = "—"


# -- formatting ------------------------------------------------------------------------------


def ms(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if value < 1:
        return f"{value:.3f} ms"
    if value < 100:
        return f"{value:.2f} ms"
    return f"{value:.0f} ms"


def pair(summary: Summary) -> str:
    """``p50 / p99`` of a summary."""
    return f"{ms(summary.p50_ms)} / {ms(summary.p99_ms)}"


def rate(value: float) -> str:
    return f"{value:,.0f}/s"


def times(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return "—"
    return f"{value:.1f}×" if value >= 10 else f"{value:.2f}×"


def verdict(ok: bool) -> str:
    return "meets" if ok else "**misses**"


# -- rows ------------------------------------------------------------------------------------


def rows(results: Results) -> list[Row]:
    out: list[Row] = []
    out += _floor_rows(results)
    out += _warm_rows(results)
    out += _throughput_rows(results)
    out += _cold_rows(results)
    out += _control_rows(results)
    out += _start_rows(results)
    return out


def _floor_rows(results: Results) -> list[Row]:
    out: list[Row] = []
    floor = results.floor_sequential
    if floor is not None:
        out.append(
            Row(
                "Raw floor: echo, sequential latency p50 / p99",
                pair(floor),
                "— (DESIGN's probe: ~0.23 ms)",
                vs_floor="1×",
            )
        )
    for n, run in sorted(results.floor_load.items()):
        out.append(
            Row(
                f"Raw floor: echo requests/s, {n} clients",
                _load_result(run),
                "— (DESIGN's probe: uvicorn 5,000–9,600/s)",
                vs_floor="1×",
            )
        )
    return out


def _warm_rows(results: Results) -> list[Row]:
    warm, floor = results.warm_sequential, results.floor_sequential
    if warm is None:
        return []
    out = [
        Row(
            "Warm invoke (no-op): sequential latency p50 / p99",
            pair(warm),
            vs_floor=_latency_ratio(warm, floor),
        )
    ]
    if floor is not None:
        added = warm.p50_ms - floor.p50_ms
        out.append(
            Row(
                "Warm invoke: added latency over the raw floor, p50 (p99)",
                f"{ms(added)} ({ms(warm.p99_ms - floor.p99_ms)})",
                "p50 ≤ 0.3 ms",
                verdict(added <= 0.3),
            )
        )
    return out


def _throughput_rows(results: Results) -> list[Row]:
    out: list[Row] = []
    for n, run in sorted(results.invoke_load.items()):
        floor = results.floor_load.get(n)
        out.append(
            Row(
                f"Throughput: no-op invokes/s, {n} clients",
                _load_result(run),
                "≥ 5,000/s on 2 cores",
                verdict(run.result.rate >= 5000 and run.result.error_count == 0),
                times(run.result.rate / floor.result.rate) if floor and floor.result.rate else "—",
            )
        )
    return out


def _cold_rows(results: Results) -> list[Row]:
    out: list[Row] = []
    cold, floor = results.cold, results.floor_sequential
    if cold is not None:
        summary = cold.request_to_response
        out.append(
            Row(
                f"Cold start: request to response p50 / p99 ({summary.count} new functions)",
                pair(summary),
                "p50 ≤ 10 ms, p99 ≤ 30 ms",
                verdict(summary.p50_ms <= 10 and summary.p99_ms <= 30),
                _latency_ratio(summary, floor),
            )
        )
        if cold.init_duration.count:
            out.append(Row("Cold start: REPORT Init Duration p50 / p99", pair(cold.init_duration)))
    if results.first_cold_s is not None:
        init = results.first_cold_init_s
        detail = f" (Init Duration {ms(init * 1000)})" if init is not None else ""
        out.append(
            Row(
                "Cold start: first ever, on a fresh data directory",
                ms(results.first_cold_s * 1000) + detail,
            )
        )
    return out


def _control_rows(results: Results) -> list[Row]:
    control, floor = results.control, results.floor_sequential
    if control is None:
        return []
    return [
        Row(
            f"CreateFunction over boto3, p50 (p99), {control.create.count} calls",
            f"{ms(control.create.p50_ms)} ({ms(control.create.p99_ms)})",
            "≤ 3 ms",
            verdict(control.create.p50_ms <= 3),
        ),
        Row(
            f"GetFunction over boto3, p50 (p99), {control.get.count} calls",
            f"{ms(control.get.p50_ms)} ({ms(control.get.p99_ms)})",
            "≤ 2 ms",
            verdict(control.get.p50_ms <= 2),
        ),
        Row(
            "GetFunction over raw HTTP (no boto3), p50 / p99",
            pair(control.get_raw_http),
            vs_floor=_latency_ratio(control.get_raw_http, floor),
        ),
    ]


def _start_rows(results: Results) -> list[Row]:
    starts = results.start_to_ready_s
    if not starts:
        return []
    summary = Summary.of(starts)
    out = [
        Row(
            f"`lamina serve` start to ready, p50 (max of {summary.count})",
            f"{summary.p50_ms / 1000:.3f} s ({summary.max_ms / 1000:.3f} s)",
            "≤ 0.3 s",
            verdict(summary.p50_ms <= 300),
        )
    ]
    if results.uncached_start_s is not None:
        out.append(
            Row(
                "`lamina serve` start to ready, first start with no bytecode cache",
                f"{results.uncached_start_s:.3f} s",
            )
        )
    return out


def _load_result(run: LoadRun) -> str:
    result = run.result
    text = rate(result.rate)
    if result.error_count:
        text += f", **{result.error_count} errors**"
    return text


def _latency_ratio(summary: Summary, floor: Summary | None) -> str:
    if floor is None or not floor.p50_ms:
        return "—"
    return times(summary.p50_ms / floor.p50_ms)


def load_rows(results: Results) -> list[tuple[str, ...]]:
    """One line per load run: latency under load, errors, and who used the CPU."""
    lines: list[tuple[str, ...]] = []
    runs = [("echo", n, r) for n, r in sorted(results.floor_load.items())]
    runs += [("lamina", n, r) for n, r in sorted(results.invoke_load.items())]
    for server, n, run in runs:
        result = run.result
        errors = f"{result.error_count} / {sum(result.warmup_errors.values())}"
        if not result.completed:
            errors += f" (no response within the window; {result.late} after it)"
        if result.error_sample:
            errors += f" ({result.error_sample[:120]})"
        usage = run.usage
        cpu = "n/a"
        if usage is not None:
            other = usage.machine_busy - usage.server - usage.environments - usage.clients
            cpu = (
                f"{usage.server:.2f} / {usage.environments:.2f} / {usage.clients:.2f}"
                f" / {max(other, 0.0):.2f} / {usage.machine_steal:.2f}"
            )
        lines.append(
            (
                server,
                str(n),
                rate(result.rate),
                f"{ms(result.latency.p50_ms)} / {ms(result.latency.p99_ms)}"
                f" / {ms(result.latency.max_ms)}",
                errors,
                cpu,
                str(usage.environments_at_end) if usage else "n/a",
            )
        )
    for key, wrk in results.wrk.items():
        label, clients = key.split()
        errors = f"{wrk.non_2xx} non-2xx" + (
            f", socket errors {wrk.socket_errors}" if wrk.socket_errors else ""
        )
        lines.append((f"{label} (wrk)", clients, rate(wrk.rate), "—", errors, "—", "—"))
    return lines


LOAD_HEADER = (
    "server",
    "clients",
    "rate",
    "latency p50 / p99 / max",
    "errors (measured / warm-up)",
    "cores used: server / its children / load generator / rest of the machine / stolen",
    "server's children",
)


# -- machine ---------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def package_versions() -> str:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def runtime_interpreter(runtime: str) -> str:
    """The interpreter lamina would run ``runtime`` with on this host, and its version."""
    try:
        from lamina.runtimes import discover

        found = discover().get(runtime)
    except Exception:
        return "unknown"
    if found is None:
        return f"{runtime}: not available"
    try:
        version = subprocess.run(
            [str(found.interpreter), "--version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except OSError:
        version = "?"
    return f"{found.interpreter} ({version})"


def sandbox_backend() -> str:
    try:
        from lamina.settings import Settings

        return Settings().sandbox
    except Exception:
        return "unknown"


def git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{' with uncommitted changes' if dirty else ''}" if head else "unknown"


def machine_lines(results: Results, command: str) -> list[tuple[str, str]]:
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0))
    plan = results.plan
    return [
        ("Date", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(results.started_at))),
        ("Run time", f"{results.finished_at - results.started_at:.0f} s"),
        ("CPU", f"{cpu_model()}, {cores} cores ({usable} usable by this process)"),
        ("Memory", memory_gib()),
        ("Kernel", platform.release()),
        ("Python", f"{platform.python_version()} ({sys.executable})"),
        ("Function runtime", f"{plan.runtime}: {runtime_interpreter(plan.runtime)}"),
        ("Packages", package_versions()),
        ("lamina revision", git_revision()),
        ("Server", f"`lamina serve` with its defaults (sandbox backend `{sandbox_backend()}`)"),
        ("Command", f"`{command}`"),
        (
            "Settings",
            f"{plan.sequential_requests} sequential requests after {plan.warmup_requests} "
            f"warm-up; load windows {plan.load_duration_s:g} s after {plan.load_warmup_s:g} s "
            f"warm-up, {plan.client_processes} load-generator process(es); "
            f"{plan.cold_functions} cold functions; {plan.control_creates} CreateFunction, "
            f"{plan.control_gets} GetFunction; {plan.server_starts} server starts (after one "
            "that fills the bytecode cache)",
        ),
    ]


# -- rendering -------------------------------------------------------------------------------

ROW_HEADER = ("measure", "result", "target (DESIGN.md §4)", "verdict", "vs raw floor")


def text_table(header: tuple[str, ...], lines: list[tuple[str, ...]]) -> str:
    cells = [tuple(c.replace("**", "").replace("`", "") for c in line) for line in lines]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]
    rendered = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, tuple("-" * w for w in widths), *cells]
    ]
    return "\n".join(rendered)


def markdown_table(header: tuple[str, ...], lines: list[tuple[str, ...]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in line) + " |" for line in lines]
    return "\n".join(out)


def row_tuples(results: Results) -> list[tuple[str, ...]]:
    return [(r.measure, r.result, r.target, r.verdict, r.vs_floor) for r in rows(results)]


def terminal(results: Results, command: str) -> str:
    parts = [
        text_table(ROW_HEADER, row_tuples(results)),
        "",
        "Under load:",
        text_table(LOAD_HEADER, load_rows(results)),
        "",
        *(f"{k}: {v.replace('`', '')}" for k, v in machine_lines(results, command)),
    ]
    parts += _problem_lines(results)
    return "\n".join(parts)


def _problem_lines(results: Results) -> list[str]:
    lines: list[str] = []
    for stage, detail in results.failures.items():
        lines.append(f"FAILED {stage}: {detail}")
    if results.lamina_exit_status not in (None, 0):
        lines.append(f"lamina serve exited with status {results.lamina_exit_status}")
    if results.server_log_problems:
        lines.append(f"{len(results.server_log_problems)} problem line(s) in the server log:")
        lines.extend("    " + line[:300] for line in results.server_log_problems[:10])
    return lines


HOW_TO_READ = """\
Everything is measured from outside the server, as a client sees it, on one machine where the
server, the function environments and the load generator share the same **{cores} cores**. The
**raw floor** is a bare ASGI echo app on lamina's own stack (uvicorn, uvloop, httptools, no access
log) answering the same POST: what HTTP costs before any lamina code runs. Latencies are over one
keep-alive connection with TCP_NODELAY and raw HTTP (no boto3), first byte sent to last byte read,
lamina and the floor in alternating batches so that both see the same conditions; "added latency"
is warm invoke p50 minus floor p50, and "vs raw floor" is a latency's multiple of the floor's p50
or a throughput's fraction of the floor's rate at the same client count. Throughput is closed-loop
(each client sends its next request when the last is answered) from a separate load-generator
process; every concurrent client gets its own execution environment, as on AWS, so 32 clients means
32 function processes on those cores. "Under load" gives latency under that load, errors, and CPU
use in cores over the measured window: a server near 1.00 is saturating its single event loop;
"rest of the machine" is everything else running on it (noise) and "stolen" is time the hypervisor
took. A cold start is the first invocation of a newly created function, environment start included
(with the sandbox backend named above, which may not isolate as DESIGN.md's target assumes); Init
Duration is lamina's own figure from the REPORT line; the first cold start on a fresh data
directory is shown apart because it also fills the runtime's bytecode cache. Control-plane figures
are boto3 calls (DESIGN.md's targets are stated for boto3), so they include boto3's own signing and
parsing; GetFunction over raw HTTP is the server's share. Start to ready is from spawning `lamina
serve` to its first 200 on `GET /_lamina/health`, each on a fresh data directory with a warm
bytecode cache (as an installed server starts). Runs on a shared VM vary by tens of percent;
compare runs on the same machine."""


def markdown(results: Results, command: str, notes: str) -> str:
    machine = "\n".join(f"- **{k}**: {v}" for k, v in machine_lines(results, command))
    problems = _problem_lines(results)
    parts = [
        "# Benchmarks",
        "",
        "Written by `python -m benchmarks` (`make bench`); rerun it to refresh everything above "
        f'"{NOTES_HEADING[3:]}", which is kept as written.',
        "",
        "## Run",
        "",
        machine,
        "",
        "## Results",
        "",
        markdown_table(ROW_HEADER, row_tuples(results)),
        "",
        "### Under load",
        "",
        markdown_table(LOAD_HEADER, load_rows(results)),
        "",
    ]
    if problems:
        parts += ["### Problems seen during the run", "", *(f"- {p}" for p in problems), ""]
    parts += ["## How to read this", "", HOW_TO_READ.format(cores=os.cpu_count()), ""]
    if notes:
        parts += [notes.rstrip(), ""]
    return "\n".join(parts)


def write_docs(path: Path, results: Results, command: str) -> None:
    """Rewrite ``path``, keeping its hand-written notes section."""
    notes = ""
    if path.exists():
        text = path.read_text()
        at = text.find("\n" + NOTES_HEADING)
        if at >= 0:
            notes = text[at + 1 :]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown(results, command, notes))
