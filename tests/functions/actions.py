"""A handler whose behaviour is chosen by the event, with module state to observe its lifecycle.

``{"action": ...}`` picks what one invocation does: echo the event, count the invocations this
runtime has served, raise, exit, kill itself, sleep, write a file, print, stay a while, or
return a special result. Must run on every managed Python runtime (3.9+).
"""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

INVOCATIONS = 0
"""Invocations served since this module was imported (once per runtime start)."""
ENVIRONMENT = uuid.uuid4().hex
"""Tells environments apart: pids do not, since each sandbox has its own PID namespace."""


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


def _announce(event: dict[str, Any], context: Any) -> None:
    print("ran", context.aws_request_id)


def _hold(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Stay in the handler a while; say which environment served."""
    time.sleep(event["seconds"])
    return {"environment": ENVIRONMENT}


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
    "announce": _announce,
    "hold": _hold,
    "string": lambda event, context: "x" * event["size"],
    "set": lambda event, context: {1, 2, 3},
}
