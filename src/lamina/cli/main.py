"""``lamina`` entry point: sub-commands and their flags."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from lamina import __version__
from lamina.settings import (
    AUTH_MODES,
    CGROUP_MODES,
    DEFAULT_ENDPOINT,
    ENV_ENDPOINT,
    NETWORK_MODES,
    SANDBOX_BACKENDS,
    ZYGOTE_MODES,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lamina", description="A self-hosted serverless platform that speaks AWS Lambda's API."
    )
    parser.add_argument("--version", action="version", version=f"lamina {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default 3001)")
    serve.add_argument("--data-dir", dest="data_dir", help="state folder (default ~/.lamina)")
    serve.add_argument("--region", help="AWS region lamina answers as (default us-east-1)")
    serve.add_argument("--account-id", dest="account_id", help="account id (default 000000000000)")
    serve.add_argument(
        "--sandbox",
        choices=SANDBOX_BACKENDS,
        help="namespace (default: isolated environments) or process (no isolation)",
    )
    serve.add_argument(
        "--network",
        choices=NETWORK_MODES,
        help="egress (reach out through NAT, not the host), none (loopback only) or host "
        "(share the host's network); default auto: egress where the host allows it, else none",
    )
    serve.add_argument(
        "--egress-subnet",
        dest="egress_subnet",
        help="private IPv4 network for environments' addresses (default: a free 10.x.0.0/16)",
    )
    serve.add_argument(
        "--zygotes",
        choices=ZYGOTE_MODES,
        help="on (default: fork Python environments from pre-initialised interpreters) or off",
    )
    serve.add_argument(
        "--cgroups",
        choices=CGROUP_MODES,
        help="require (default: refuse to start without per-environment cgroups) or optional "
        "(run without them where they cannot be made, naming the limits not enforced)",
    )
    serve.add_argument(
        "--cgroup-parent",
        dest="cgroup_parent",
        help="cgroup path under which environments' cgroups are made (a subtree delegated to "
        "lamina's user; default: <lamina's own cgroup>/lamina)",
    )
    serve.add_argument(
        "--concurrency-limit",
        dest="concurrency_limit",
        type=int,
        help="invocations running at once on this server (default 1000)",
    )
    serve.add_argument(
        "--sqs-endpoint", dest="sqs_endpoint", help="endpoint of SQS destinations and DLQs"
    )
    serve.add_argument(
        "--async-delay-scale",
        dest="async_delay_scale",
        type=float,
        help="multiply async retry delays and event ages (default 1; smaller for tests)",
    )
    serve.add_argument(
        "--auth",
        choices=AUTH_MODES,
        help="sigv4 (default: verify every request's signature) or none (no checks)",
    )
    serve.add_argument(
        "--credentials", help="access keys accepted, KEY:SECRET[:ACCOUNT],… (default test:test)"
    )
    serve.add_argument(
        "--idle-timeout",
        dest="idle_timeout_s",
        type=float,
        help="seconds an idle on-demand environment is kept (default 600)",
    )
    serve.add_argument(
        "--memory-budget",
        dest="memory_budget_mb",
        type=int,
        help="MB of MemorySize all live environments may add up to (default 8 times RAM: "
        "MemorySize is a ceiling, not use); idle ones are evicted, least recently used "
        "first, to stay within it",
    )
    serve.add_argument("--log-level", dest="log_level", help="debug, info, warning or error")

    endpoint = argparse.ArgumentParser(add_help=False)
    endpoint.add_argument(
        "--endpoint-url",
        default=os.environ.get(ENV_ENDPOINT, DEFAULT_ENDPOINT),
        help=f"the server to talk to (env {ENV_ENDPOINT}; default {DEFAULT_ENDPOINT})",
    )

    deploy = commands.add_parser("deploy", parents=[endpoint], help="zip a folder and deploy it")
    deploy.add_argument("directory", help="folder holding the function's code")
    deploy.add_argument("--name", required=True, help="function name")
    deploy.add_argument("--handler", default="handler.handler", help="module.function")
    deploy.add_argument("--runtime", default="python3.12", help="AWS runtime id, e.g. python3.12")
    deploy.add_argument("--memory", type=int, help="MemorySize in MB")
    deploy.add_argument("--timeout", type=int, help="Timeout in seconds")
    deploy.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    deploy.add_argument("--role", default="arn:aws:iam::000000000000:role/lambda-role")

    invoke = commands.add_parser("invoke", parents=[endpoint], help="invoke a function")
    invoke.add_argument("name")
    invoke.add_argument("payload", nargs="?", default="{}", help="JSON event (default {})")
    invoke.add_argument("--event", action="store_true", help="invoke asynchronously")
    invoke.add_argument("--log", action="store_true", help="print the invocation's log tail")

    logs = commands.add_parser("logs", parents=[endpoint], help="print a function's logs")
    logs.add_argument("name")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    logs.add_argument("--since", type=float, default=3600, help="seconds of history (default 3600)")

    commands.add_parser("ls", parents=[endpoint], help="list functions")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from lamina.cli.serve import run

        return run(args)
    from lamina.cli import client

    try:
        return client.run(args)
    except KeyboardInterrupt:
        return 130
    except client.CliError as exc:
        print(f"lamina: {exc}", file=sys.stderr)
        return 1
