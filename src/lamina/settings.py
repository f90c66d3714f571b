"""Server settings: one frozen object from CLI flags, then ``LAMINA_*`` variables, then defaults.

Components take the values they need from it; nothing reads the environment elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ENV_HOST = "LAMINA_HOST"
ENV_PORT = "LAMINA_PORT"
ENV_HOME = "LAMINA_HOME"
ENV_REGION = "LAMINA_REGION"
ENV_ACCOUNT_ID = "LAMINA_ACCOUNT_ID"
ENV_SANDBOX = "LAMINA_SANDBOX"
ENV_IDLE_TIMEOUT = "LAMINA_IDLE_TIMEOUT"
ENV_LOG_LEVEL = "LAMINA_LOG_LEVEL"
ENV_NETWORK = "LAMINA_NETWORK"
ENV_CONCURRENCY_LIMIT = "LAMINA_CONCURRENCY_LIMIT"
ENV_SQS_ENDPOINT = "LAMINA_SQS_ENDPOINT"
ENV_ASYNC_DELAY_SCALE = "LAMINA_ASYNC_DELAY_SCALE"
ENV_ENDPOINT = "LAMINA_ENDPOINT"
ENV_RUNTIME_PREFIX = "LAMINA_RUNTIME_"
"""``LAMINA_RUNTIME_PYTHON3_12=/path/to/python3.12`` pins the interpreter of one runtime."""

DEFAULT_ENDPOINT = "http://127.0.0.1:3001"
SANDBOX_BACKENDS = ("namespace", "process")
NETWORK_MODES = ("none", "host")
"""``none``: each environment has only its own loopback; ``host``: environments share the
host's network (local development, chosen explicitly). Egress through NAT is to come."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 3001
    data_dir: Path = field(default_factory=lambda: Path.home() / ".lamina")
    region: str = "us-east-1"
    account_id: str = "000000000000"
    sandbox: str = "namespace"
    network: str = "none"
    concurrency_limit: int = 1000
    sqs_endpoint: str | None = None
    """Where SQS destinations and dead-letter queues are reached (AWS's or a compatible server)."""
    async_delay_scale: float = 1.0
    """Multiplies every retry delay and maximum event age of asynchronous invocations."""
    idle_timeout_s: float = 600.0
    log_level: str = "info"
    runtime_overrides: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.sandbox not in SANDBOX_BACKENDS:
            raise ValueError(
                f"unknown sandbox backend {self.sandbox!r}; choose from {SANDBOX_BACKENDS}"
            )
        if not (0 < self.port < 65536):
            raise ValueError(f"port {self.port} is out of range")
        if len(self.account_id) != 12 or not self.account_id.isdigit():
            raise ValueError(f"account id {self.account_id!r} must be 12 digits")
        if self.network not in NETWORK_MODES:
            raise ValueError(f"unknown network mode {self.network!r}; choose from {NETWORK_MODES}")
        if self.async_delay_scale <= 0:
            raise ValueError("the asynchronous delay scale must be positive")
        if self.concurrency_limit < 1:
            raise ValueError("the concurrency limit must be at least 1")
        if self.idle_timeout_s <= 0:
            raise ValueError("idle timeout must be positive")

    @classmethod
    def load(
        cls, flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Flags that are not None win over ``LAMINA_*`` variables, which win over defaults."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = _from_environ(environ)
        values.update({k: v for k, v in (flags or {}).items() if v is not None})
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"]).expanduser()
        return replace(cls(), **values)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    simple: dict[str, tuple[str, type]] = {
        ENV_HOST: ("host", str),
        ENV_PORT: ("port", int),
        ENV_HOME: ("data_dir", Path),
        ENV_REGION: ("region", str),
        ENV_ACCOUNT_ID: ("account_id", str),
        ENV_SANDBOX: ("sandbox", str),
        ENV_IDLE_TIMEOUT: ("idle_timeout_s", float),
        ENV_LOG_LEVEL: ("log_level", str),
        ENV_NETWORK: ("network", str),
        ENV_CONCURRENCY_LIMIT: ("concurrency_limit", int),
        ENV_SQS_ENDPOINT: ("sqs_endpoint", str),
        ENV_ASYNC_DELAY_SCALE: ("async_delay_scale", float),
    }
    values: dict[str, Any] = {}
    for var, (name, kind) in simple.items():
        if environ.get(var):
            values[name] = kind(environ[var])
    overrides = {
        key[len(ENV_RUNTIME_PREFIX) :].lower().replace("_", "."): path
        for key, path in environ.items()
        if key.startswith(ENV_RUNTIME_PREFIX) and path
    }
    if overrides:
        values["runtime_overrides"] = overrides
    return values
