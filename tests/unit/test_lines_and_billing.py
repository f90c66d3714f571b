"""The platform's log lines and billed durations, exactly as AWS writes and bills them."""

from __future__ import annotations

import re

from lamina.billing import billed_duration_ms, billed_restore_ms, gb_seconds
from lamina.telemetry import lines


def test_report_line_has_aws_fields_tab_separated_with_a_trailing_tab():
    line = lines.report(
        "r1", duration_ms=1.234, billed_ms=2, memory_mb=128, max_memory_mb=40, init_duration_ms=99.5
    )

    assert line == (
        "REPORT RequestId: r1\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 40 MB\tInit Duration: 99.50 ms\t"
    )


def test_timeout_report_carries_the_status():
    line = lines.report("r", duration_ms=1000, billed_ms=1000, memory_mb=128, max_memory_mb=1,
                        status="timeout")  # fmt: skip

    assert line.endswith("\tStatus: timeout\t")


def test_timed_out_line_names_the_request_and_the_limit():
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ abc Task timed out after 3\.00 seconds",
        lines.timed_out("abc", 3),
    )


def test_stream_names_follow_aws_date_and_version_format():
    assert lines.stream_name("$LATEST", "f" * 32, now=0) == "1970/01/01/[$LATEST]" + "f" * 32


def test_init_start_names_the_runtime_as_aws_does():
    assert lines.init_start("python3.12", "arn:x").startswith(
        "INIT_START Runtime Version: python:3.12."
    )


def test_init_start_names_node_runtimes_as_aws_does():
    assert lines.init_start("nodejs20.x", "arn:x").startswith(
        "INIT_START Runtime Version: nodejs:20."
    )


def test_billing_rounds_up_to_the_millisecond_and_includes_init_on_cold_starts():
    assert billed_duration_ms(0.2) == 1
    assert billed_duration_ms(10.01) == 11
    assert billed_duration_ms(10.0, init_duration_ms=100.5) == 111


def test_gb_seconds_scale_with_memory():
    assert gb_seconds(1000, 1024) == 1.0
    assert gb_seconds(500, 512) == 0.25


def test_restored_report_carries_restore_fields_after_memory_as_aws_prints_them():
    line = lines.report("r", duration_ms=306.34, billed_ms=610, memory_mb=3009, max_memory_mb=155,
                        restore=(511.25, 303))  # fmt: skip

    assert line == (
        "REPORT RequestId: r\tDuration: 306.34 ms\tBilled Duration: 610 ms\tMemory Size: 3009 MB\t"
        "Max Memory Used: 155 MB\tRestore Duration: 511.25 ms\tBilled Restore Duration: 303 ms\t"
    )


def test_restored_billed_duration_adds_the_billed_restore_duration():
    # AWS: Duration 306.34 ms, Billed Restore Duration 303 ms → Billed Duration 610 ms.
    assert billed_duration_ms(306.34, None, 303) == 610
    assert billed_restore_ms(0.2) == 1
    assert billed_restore_ms(302.01) == 303


def test_restore_lines_follow_aws():
    arn = "arn:aws:lambda:us-east-1::runtime:abc"

    assert lines.restore_start("python3.12", arn) == (
        f"RESTORE_START Runtime Version: python:3.12.v1\tRuntime Version ARN: {arn}"
    )
    assert lines.restore_report(511.254) == "RESTORE_REPORT Restore Duration: 511.25 ms"
    assert lines.restore_report(1236.04, "error", "Runtime.ExitError") == (
        "RESTORE_REPORT Restore Duration: 1236.04 ms\tStatus: error\tError Type: Runtime.ExitError"
    )
    assert lines.snapshot_init_report(9908.091) == "INIT_REPORT Init Duration: 9908.09 ms"
