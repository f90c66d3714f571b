"""A handler whose behaviour is chosen by the event, with module state to observe its lifecycle.

``{"action": ...}`` picks what one invocation does: echo the event, count the invocations this
runtime has served, raise, exit, kill itself, sleep, write a file, print, wait for other
invocations, or return a special result. Must run on every managed Python runtime (3.9+).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

INVOCATIONS = 0
"""Invocations served since this module was imported (once per runtime start)."""


def handler(event: dict[str, Any], context: Any) -> Any:
    global INVOCATIONS
    INVOCATIONS += 1
    return ACTIONS[event.get("action", "echo")](event, context)


def _raise(event: dict[str, Any], context: Any) -> None:
    raise ValueError(event.get("message", "bad value"))


def _exit(event: dict[str, Any], context: Any) -> None:
    sys.exit(event["code"])


def _kill(event: dict[str, Any], context: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _sleep(event: dict[str, Any], context: Any) -> int:
    time.sleep(event["seconds"])
    return os.getpid()


def _write(event: dict[str, Any], context: Any) -> None:
    Path(event["path"]).write_text(context.aws_request_id)


def _print(event: dict[str, Any], context: Any) -> None:
    print(event["text"])


def _gather(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Arrive in ``dir``, wait (up to ``wait_s``) until ``parties`` invocations are there."""
    folder = Path(event["dir"])
    (folder / context.aws_request_id).touch()
    deadline = time.monotonic() + event["wait_s"]
    while len(list(folder.iterdir())) < event["parties"] and time.monotonic() < deadline:
        time.sleep(0.01)
    return {"pid": os.getpid(), "all_arrived": len(list(folder.iterdir())) >= event["parties"]}


ACTIONS: dict[str, Callable[[dict[str, Any], Any], Any]] = {
    "echo": lambda event, context: event,
    "count": lambda event, context: INVOCATIONS,
    "none": lambda event, context: None,
    "raise": _raise,
    "exit": _exit,
    "kill": _kill,
    "sleep": _sleep,
    "write": _write,
    "print": _print,
    "gather": _gather,
    "string": lambda event, context: "x" * event["size"],
    "set": lambda event, context: {1, 2, 3},
}
