"""Server settings: one frozen object from CLI flags, then ``LAMINA_*`` variables, then defaults.

Components take the values they need from it; nothing reads the environment elsewhere.
"""

from __future__ import annotations

import ipaddress
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
ENV_MEMORY_BUDGET = "LAMINA_MEMORY_BUDGET"
ENV_LOG_LEVEL = "LAMINA_LOG_LEVEL"
ENV_NETWORK = "LAMINA_NETWORK"
ENV_EGRESS_SUBNET = "LAMINA_EGRESS_SUBNET"
ENV_ZYGOTES = "LAMINA_ZYGOTES"
ENV_CONCURRENCY_LIMIT = "LAMINA_CONCURRENCY_LIMIT"
ENV_SQS_ENDPOINT = "LAMINA_SQS_ENDPOINT"
ENV_ASYNC_DELAY_SCALE = "LAMINA_ASYNC_DELAY_SCALE"
ENV_AUTH = "LAMINA_AUTH"
ENV_CREDENTIALS = "LAMINA_CREDENTIALS"
"""``KEY:SECRET[:ACCOUNT],…``: the access keys lamina accepts (default ``test:test``)."""
ENV_CGROUPS = "LAMINA_CGROUPS"
ENV_CGROUP_PARENT = "LAMINA_CGROUP_PARENT"
ENV_ENDPOINT = "LAMINA_ENDPOINT"
ENV_RUNTIME_PREFIX = "LAMINA_RUNTIME_"
"""``LAMINA_RUNTIME_PYTHON3_12=/path/to/python3.12`` pins the interpreter of one runtime."""

DEFAULT_ENDPOINT = "http://127.0.0.1:3001"
DEFAULT_MEMORY_OVERCOMMIT = 8
"""Without ``--memory-budget``, live environments' MemorySize may add up to this many times the
host's RAM: MemorySize is a ceiling (the cgroup's limit), and an idle environment really holds
a few MB, so counting it in full against RAM would throttle a 24 GB node at ~150 environments
of 128 MB. Eight times RAM keeps a thousand default-sized environments and still bounds the
node."""
MIN_MEMORY_BUDGET_MB = 128
SANDBOX_BACKENDS = ("namespace", "process")
AUTH_MODES = ("sigv4", "none")
NETWORK_MODES = ("auto", "egress", "none", "host")
"""``egress``: each environment reaches the outside world through NAT, but not the host or
other environments; ``none``: each environment has only its own loopback; ``host``:
environments share the host's network (local development, chosen explicitly); ``auto`` (the
default): ``egress`` where the host allows it, else ``none``, saying why at start-up."""
ZYGOTE_MODES = ("on", "off")
CGROUP_MODES = ("require", "optional")
"""``require``: the namespace sandbox refuses to start without per-environment cgroups;
``optional``: it runs without them when it must, and says which limits go unenforced."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 3001
    data_dir: Path = field(default_factory=lambda: Path.home() / ".lamina")
    region: str = "us-east-1"
    account_id: str = "000000000000"
    sandbox: str = "namespace"
    network: str = "auto"
    egress_subnet: str | None = None
    """The private IPv4 network environments' addresses come from (``egress``); None: the
    first /16 of 10.200-254.0.0 that no route of the host uses."""
    zygotes: str = "on"
    """``on``: Python environments fork from pre-initialised zygotes (namespace sandbox)."""
    concurrency_limit: int = 1000
    sqs_endpoint: str | None = None
    """Where SQS destinations and dead-letter queues are reached (AWS's or a compatible server)."""
    async_delay_scale: float = 1.0
    """Multiplies every retry delay and maximum event age of asynchronous invocations."""
    auth: str = "sigv4"
    credentials: tuple[str, ...] = ()
    """``KEY:SECRET[:ACCOUNT]`` entries; empty means ``test:test`` in the server's account."""
    idle_timeout_s: float = 600.0
    memory_budget_mb: int | None = None
    """MemorySize of all live environments together; None: ``DEFAULT_MEMORY_OVERCOMMIT`` times
    the host's RAM (``default_memory_budget_mb``)."""
    log_level: str = "info"
    cgroups: str = "require"
    cgroup_parent: str | None = None
    """A cgroup path (the same in every hierarchy) under which environments' groups are made,
    instead of ``<the server's own cgroup>/lamina``: a subtree delegated to a server that is
    not root (systemd ``Delegate=yes``, or a v1 folder given to its user)."""
    runtime_overrides: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._check_choices()
        self._check_numbers()
        for entry in self.credentials:
            _check_credential(entry)
        if self.egress_subnet is not None:
            _check_subnet(self.egress_subnet)

    def _check_choices(self) -> None:
        for value, choices, what in (
            (self.sandbox, SANDBOX_BACKENDS, "sandbox backend"),
            (self.network, NETWORK_MODES, "network mode"),
            (self.zygotes, ZYGOTE_MODES, "zygote mode"),
            (self.cgroups, CGROUP_MODES, "cgroups mode"),
            (self.auth, AUTH_MODES, "auth mode"),
        ):
            if value not in choices:
                raise ValueError(f"unknown {what} {value!r}; choose from {choices}")

    def _check_numbers(self) -> None:
        if not (0 < self.port < 65536):
            raise ValueError(f"port {self.port} is out of range")
        if len(self.account_id) != 12 or not self.account_id.isdigit():
            raise ValueError(f"account id {self.account_id!r} must be 12 digits")
        if self.async_delay_scale <= 0:
            raise ValueError("the asynchronous delay scale must be positive")
        if self.concurrency_limit < 1:
            raise ValueError("the concurrency limit must be at least 1")
        if self.idle_timeout_s <= 0:
            raise ValueError("idle timeout must be positive")
        if self.memory_budget_mb is not None and self.memory_budget_mb < MIN_MEMORY_BUDGET_MB:
            raise ValueError(
                f"the memory budget must be at least {MIN_MEMORY_BUDGET_MB} MB (one environment)"
            )
        parent = self.cgroup_parent
        if parent is not None and (not parent.startswith("/") or ".." in parent.split("/")):
            raise ValueError(f"cgroup parent {parent!r} must be an absolute cgroup path")

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
        if isinstance(values.get("credentials"), str):
            values["credentials"] = tuple(e for e in values["credentials"].split(",") if e)
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"]).expanduser()
        return replace(cls(), **values)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"


def default_memory_budget_mb(meminfo: Path = Path("/proc/meminfo")) -> int:
    """``DEFAULT_MEMORY_OVERCOMMIT`` times the host's RAM (MemTotal), in MB; 32 GB if unknown."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                total_mb = int(line.split()[1]) // 1024
                return max(MIN_MEMORY_BUDGET_MB, total_mb * DEFAULT_MEMORY_OVERCOMMIT)
    except (OSError, ValueError, IndexError):
        pass
    return 32768


def _check_credential(entry: str) -> None:
    parts = entry.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"credentials entry {entry!r} is not KEY:SECRET[:ACCOUNT]")
    if len(parts) == 3 and (len(parts[2]) != 12 or not parts[2].isdigit()):
        raise ValueError(f"credentials entry {entry!r}: the account must be 12 digits")


def _check_subnet(text: str) -> None:
    try:
        subnet = ipaddress.IPv4Network(text)
    except ValueError as exc:
        raise ValueError(f"egress subnet {text!r}: {exc}") from exc
    if not subnet.is_private or not 8 <= subnet.prefixlen <= 24:
        raise ValueError(f"egress subnet {text!r} must be a private IPv4 network of /8 to /24")


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    simple: dict[str, tuple[str, type]] = {
        ENV_HOST: ("host", str),
        ENV_PORT: ("port", int),
        ENV_HOME: ("data_dir", Path),
        ENV_REGION: ("region", str),
        ENV_ACCOUNT_ID: ("account_id", str),
        ENV_SANDBOX: ("sandbox", str),
        ENV_IDLE_TIMEOUT: ("idle_timeout_s", float),
        ENV_MEMORY_BUDGET: ("memory_budget_mb", int),
        ENV_LOG_LEVEL: ("log_level", str),
        ENV_NETWORK: ("network", str),
        ENV_EGRESS_SUBNET: ("egress_subnet", str),
        ENV_ZYGOTES: ("zygotes", str),
        ENV_CONCURRENCY_LIMIT: ("concurrency_limit", int),
        ENV_SQS_ENDPOINT: ("sqs_endpoint", str),
        ENV_ASYNC_DELAY_SCALE: ("async_delay_scale", float),
        ENV_AUTH: ("auth", str),
        ENV_CGROUPS: ("cgroups", str),
        ENV_CGROUP_PARENT: ("cgroup_parent", str),
    }
    values: dict[str, Any] = {}
    for var, (name, kind) in simple.items():
        if environ.get(var):
            values[name] = kind(environ[var])
    if environ.get(ENV_CREDENTIALS):
        values["credentials"] = tuple(e.strip() for e in environ[ENV_CREDENTIALS].split(",") if e)
    overrides = {
        key[len(ENV_RUNTIME_PREFIX) :].lower().replace("_", "."): path
        for key, path in environ.items()
        if key.startswith(ENV_RUNTIME_PREFIX) and path
    }
    if overrides:
        values["runtime_overrides"] = overrides
    return values
