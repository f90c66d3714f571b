"""Client commands (deploy, invoke, logs, ls): boto3 against a running lamina server."""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


class CliError(Exception):
    """A failure to explain to the user in one line."""


def _clients(endpoint: str) -> tuple[Any, Any]:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
    )
    config = Config(retries={"max_attempts": 1}, read_timeout=900, connect_timeout=5)
    return (
        session.client("lambda", endpoint_url=endpoint, config=config),
        session.client("logs", endpoint_url=endpoint, config=config),
    )


def run(args: argparse.Namespace) -> int:
    """Run one client command, turning botocore's failures into one-line CliErrors."""
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    try:
        return COMMANDS[args.command](args)
    except EndpointConnectionError as exc:
        raise CliError(
            f"no lamina server answers at {args.endpoint_url}; start one with `lamina serve`"
        ) from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise CliError(f"{error.get('Code')}: {error.get('Message')}") from exc
    except BotoCoreError as exc:
        raise CliError(str(exc)) from exc


def zip_directory(directory: Path) -> bytes:
    """Zip a folder's files, keeping executable bits, skipping caches."""
    if not directory.is_dir():
        raise CliError(f"{directory} is not a folder")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            info = zipfile.ZipInfo(
                str(path.relative_to(directory)), date_time=(1980, 1, 1, 0, 0, 0)
            )
            info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def deploy(args: argparse.Namespace) -> int:
    client, _ = _clients(args.endpoint_url)
    package = zip_directory(Path(args.directory))
    settings: dict[str, Any] = {"Handler": args.handler, "Runtime": args.runtime, "Role": args.role}
    if args.memory is not None:
        settings["MemorySize"] = args.memory
    if args.timeout is not None:
        settings["Timeout"] = args.timeout
    if args.env:
        settings["Environment"] = {"Variables": dict(_pair(item) for item in args.env)}
    try:
        config = client.create_function(
            FunctionName=args.name, Code={"ZipFile": package}, **settings
        )
        action = "created"
    except client.exceptions.ResourceConflictException:
        client.update_function_code(FunctionName=args.name, ZipFile=package)
        _wait(client, args.name)
        config = client.update_function_configuration(FunctionName=args.name, **settings)
        action = "updated"
    _wait(client, args.name)
    print(f"{action} {config['FunctionArn']}")
    print(
        f"  runtime {config['Runtime']}  handler {config['Handler']}"
        f"  code {config['CodeSize']} bytes"
        f"  sha256 {config['CodeSha256']}"
    )
    return 0


def _pair(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep:
        raise CliError(f"--env expects KEY=VALUE, not {item!r}")
    return key, value


def _wait(client: Any, name: str) -> None:
    for _ in range(200):
        config = client.get_function_configuration(FunctionName=name)
        if config.get("State") == "Active" and config.get("LastUpdateStatus") != "InProgress":
            return
        time.sleep(0.05)
    raise CliError(f"{name} did not become Active")


def invoke(args: argparse.Namespace) -> int:
    client, _ = _clients(args.endpoint_url)
    try:
        json.loads(args.payload)
    except ValueError as exc:
        raise CliError(f"the payload is not JSON: {exc}") from exc
    response = client.invoke(
        FunctionName=args.name,
        Payload=args.payload.encode(),
        InvocationType="Event" if args.event else "RequestResponse",
        LogType="Tail" if args.log else "None",
    )
    if args.event:
        print(f"accepted {response['ResponseMetadata']['RequestId']}")
        return 0
    if args.log and response.get("LogResult"):
        sys.stderr.write(base64.b64decode(response["LogResult"]).decode(errors="replace"))
    body = response["Payload"].read().decode(errors="replace")
    print(_pretty(body))
    return 1 if response.get("FunctionError") else 0


def _pretty(body: str) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


def logs(args: argparse.Namespace) -> int:
    client, logs_client = _clients(args.endpoint_url)
    config = client.get_function_configuration(FunctionName=args.name)
    group = config.get("LoggingConfig", {}).get("LogGroup") or f"/aws/lambda/{args.name}"
    start = int((time.time() - args.since) * 1000)
    token: str | None = None
    while True:
        request: dict[str, Any] = {"logGroupName": group, "startTime": start}
        if token:
            request["nextToken"] = token
        try:
            page = logs_client.filter_log_events(**request)
        except logs_client.exceptions.ResourceNotFoundException:
            page = {"events": []}
        for event in page["events"]:
            stamp = time.strftime("%H:%M:%S", time.localtime(event["timestamp"] / 1000))
            print(f"{stamp} {event['message']}", flush=True)
            token = event["eventId"]
        if page.get("nextToken"):
            token = page["nextToken"]
            continue
        if not args.follow:
            return 0
        time.sleep(0.5)


def ls(args: argparse.Namespace) -> int:
    client, _ = _clients(args.endpoint_url)
    rows = []
    for page in client.get_paginator("list_functions").paginate():
        for fn in page["Functions"]:
            rows.append(
                (
                    fn["FunctionName"],
                    fn["Runtime"],
                    f"{fn['MemorySize']} MB",
                    f"{fn['Timeout']} s",
                    fn["LastModified"][:19].replace("T", " "),
                )
            )
    if not rows:
        print("no functions")
        return 0
    header = ("NAME", "RUNTIME", "MEMORY", "TIMEOUT", "LAST MODIFIED")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "deploy": deploy,
    "invoke": invoke,
    "logs": logs,
    "ls": ls,
}
