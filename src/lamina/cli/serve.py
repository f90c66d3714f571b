"""``lamina serve``: flags → Settings → the server, until a signal stops it."""

from __future__ import annotations

import argparse
import sys

from lamina.settings import Settings


def run(args: argparse.Namespace) -> int:
    flags = {
        key: getattr(args, key)
        for key in (
            "host",
            "port",
            "data_dir",
            "region",
            "account_id",
            "sandbox",
            "network",
            "egress_subnet",
            "zygotes",
            "cgroups",
            "cgroup_parent",
            "concurrency_limit",
            "sqs_endpoint",
            "async_delay_scale",
            "auth",
            "credentials",
            "idle_timeout_s",
            "memory_budget_mb",
            "log_level",
        )
    }
    try:
        settings = Settings.load(flags)
    except ValueError as exc:
        print(f"lamina: {exc}", file=sys.stderr)
        return 2
    from lamina.server import serve

    return serve(settings)
