"""The host's side of an environment's external extensions: what to wait for, what to say.

An environment learns about its extensions from the ``extensions`` list of its READY (or
INIT_ERROR) frame, sent by the relay inside it (``sandbox/extensions_api.py``). From it follow
the ``EXTENSION`` log lines AWS writes at init, whether every invocation has a post-runtime
phase (an extension subscribed to INVOKE: the environment is free again only at its DONE
frame), and that destroying it starts with a shutdown phase of at most ``SHUTDOWN_TIMEOUT_S``,
as on AWS when extensions are registered (the runtime gets SIGTERM, the extensions subscribed
to it SHUTDOWN). An environment without extensions has none of this.

What the frames say comes from inside the environment, so it is untrusted: ``parse`` keeps
only well-formed entries, and every string is cut short before it reaches a log line. At worst
a function that forges them stalls its own environment, within its timeout or the shutdown
deadline.
"""

from __future__ import annotations

import asyncio
from typing import Any

SHUTDOWN_TIMEOUT_S = 2.0
"""AWS's shutdown phase when external extensions are registered."""
SHUTDOWN_GRACE_S = 0.5
"""How long past the deadline the host waits for the relay to have killed what was left."""
MAX_EXTENSIONS = 10
_MAX_TEXT = 128
_EVENTS = ("INVOKE", "SHUTDOWN")


def parse(described: object) -> list[dict[str, Any]]:
    """The well-formed entries of a READY frame's ``extensions``, strings cut short."""
    if not isinstance(described, list):
        return []
    found = []
    for entry in described[:MAX_EXTENSIONS]:
        if not isinstance(entry, dict):
            continue
        events = entry.get("events")
        found.append(
            {
                "name": _text(entry.get("name")),
                "state": _text(entry.get("state")),
                "events": [e for e in _EVENTS if isinstance(events, list) and e in events],
                "error_type": _text(entry.get("error_type")),
            }
        )
    return found


def _text(value: object) -> str:
    return value[:_MAX_TEXT] if isinstance(value, str) else ""


class ExtensionSet:
    def __init__(self, described: list[dict[str, Any]]) -> None:
        """``described``: as ``parse`` returns it."""
        self.described = described
        self.invoke = any("INVOKE" in e["events"] for e in described)
        self.shutdown = bool(described)
        """Destroying starts with the shutdown phase (whatever the extensions subscribed to)."""
        self.failure: str | None = None
        """The error type of an extension that failed after init: retire the environment."""
        self._done: str | None = None
        self._waiter: asyncio.Future[bool] | None = None

    def lines(self) -> list[str]:
        """AWS's ``EXTENSION`` lines, one per extension, written at the end of init."""
        found = []
        for extension in self.described:
            line = "EXTENSION\tName: {}\tState: {}\tEvents: [{}]".format(
                extension["name"], extension["state"], ",".join(extension["events"])
            )
            if extension.get("error_type"):
                line += f"\tError Type: {extension['error_type']}"
            found.append(line)
        return found

    def on_done(self, header: dict[str, Any]) -> None:
        """A DONE frame: an invocation's post-runtime phase ended, or an extension failed."""
        if header.get("error_type"):
            self.failure = _text(header["error_type"]) or "Extension.Crash"
        self._done = header.get("request_id") or self._done
        settled = self.failure or header.get("request_id") is not None
        if settled and self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(self.failure is None)

    def gone(self) -> None:
        """The environment ended: nobody will say DONE."""
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(False)

    async def wait_done(self, request_id: str, timeout_s: float) -> bool | None:
        """Whether the extensions finished ``request_id`` well (None: not within the time)."""
        if self.failure:
            return False
        if self._done == request_id:
            return True
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.wait_for(self._waiter, max(timeout_s, 0.0))
        except TimeoutError:
            return None
        finally:
            self._waiter = None
