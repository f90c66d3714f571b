"""Logs (CloudWatch-style groups, streams, events) and the lines AWS writes around invocations."""

from lamina.telemetry.logs import LogEvent, LogStore, LogStream

__all__ = ["LogEvent", "LogStore", "LogStream"]
