"""The composition root: builds every layer from Settings, wires them, starts and stops them.

Only this module names concrete backends (SqliteStore, ProcessBackend, …); everything else
receives its collaborators through its constructor.
"""

from __future__ import annotations

import gc
import logging
import os
import resource
import secrets
import sys
from pathlib import Path
from types import FrameType

import uvicorn

from lamina.api import LaminaApp, Services
from lamina.api.code_urls import CodeUrlSigner
from lamina.api.sigv4 import Credential
from lamina.artifacts import CodeStore
from lamina.control import (
    AliasControl,
    CodeSigningControl,
    ConcurrencyControl,
    EventInvokeConfigs,
    FunctionRegistry,
    FunctionSettings,
    FunctionUrlControl,
    LayerControl,
    PermissionControl,
    ProvisionedConcurrencyControl,
    TagControl,
    VersionControl,
)
from lamina.invoke import Admission, Invoker
from lamina.invoke.destinations import Destinations, SqsSender
from lamina.invoke.queue import AsyncQueue
from lamina.pool import EnvironmentPool, Launcher, SnapshotManager
from lamina.pool.sdk import prepare_python_sdk
from lamina.runtimes import RuntimeCatalog, discover
from lamina.sandbox import ProcessBackend, SandboxBackend
from lamina.sandbox.cgroups import Cgroups
from lamina.sandbox.diagnostics import diagnose, egress_problem
from lamina.sandbox.egress import EgressHost
from lamina.sandbox.namespace import NamespaceBackend
from lamina.settings import Settings, default_memory_budget_mb
from lamina.store import EventStore, SqliteStore
from lamina.store.crypto import EnvironmentCipher
from lamina.telemetry import LogStore

log = logging.getLogger("lamina")

MIN_UNRESERVED_CONCURRENCY = 100
"""AWS keeps at least this much of the account limit for functions without a reservation."""


class LaminaServer:
    """All of lamina's parts for one data directory, ready to serve."""

    def __init__(self, settings: Settings, runtimes: RuntimeCatalog | None = None) -> None:
        self.settings = settings
        data = settings.data_dir
        data.mkdir(parents=True, exist_ok=True)
        data.chmod(0o700)
        self.runtimes = runtimes or discover(settings.runtime_overrides)
        self.store = SqliteStore(
            data / "lamina.db", EnvironmentCipher.from_key_file(data / "keys" / "env.key")
        )
        self.logs = LogStore(data / "logs.db")
        pycache = data / "pycache"
        self.code = CodeStore(data / "code", pycache_root=pycache)
        self.backend: SandboxBackend = _backend(settings)
        self.pool = EnvironmentPool(
            idle_timeout_s=settings.idle_timeout_s,
            max_concurrent_starts=max(4, 2 * (os.cpu_count() or 1)),
            memory_budget_mb=settings.memory_budget_mb or default_memory_budget_mb(),
        )
        self.launcher = launcher = Launcher(
            self.backend,
            self.runtimes,
            self.code.tree_path,
            self.code.merge,
            self.logs,
            settings.region,
            pycache_dir=pycache,
            sdk_path=prepare_python_sdk(data / "sdk" / "python"),
        )
        if self.backend.snapshots:
            launcher.snapshots = SnapshotManager(launcher)
        self.admission = Admission(settings.concurrency_limit, MIN_UNRESERVED_CONCURRENCY)
        self.invoker = Invoker(
            self.store, self.pool, launcher, self.admission, settings.region, settings.account_id
        )
        self.destinations = Destinations(
            enqueue=self._enqueue,
            sqs=SqsSender(settings.sqs_endpoint, settings.region, "test", "test")
            if settings.sqs_endpoint
            else None,
            region=settings.region,
            account=settings.account_id,
        )
        self.queue = AsyncQueue(
            EventStore(data / "queue.db"),
            self.store,
            self.invoker,
            self.destinations,
            delay_scale=settings.async_delay_scale,
            before_forgetting=self.logs.flush,
        )
        self.invoker.queue = self.queue
        self.registry = FunctionRegistry(
            self.store, self.code, self.invoker, self.runtimes, settings.region, settings.account_id
        )
        self.permissions = PermissionControl(self.registry, self.store)
        self.provisioned = ProvisionedConcurrencyControl(
            self.registry, self.store, self.store.provisioned
        )
        self.versions = VersionControl(self.registry, self.store)
        credentials = _credentials(settings)
        services = Services(
            registry=self.registry,
            concurrency=ConcurrencyControl(self.registry, self.admission),
            async_configs=EventInvokeConfigs(self.registry, self.store),
            versions=self.versions,
            aliases=AliasControl(self.registry, self.store, self.provisioned),
            tags=TagControl(self.registry),
            permissions=self.permissions,
            layers=LayerControl(self.registry, self.store),
            code_signing=CodeSigningControl(self.registry, self.store.settings),
            function_settings=FunctionSettings(self.registry, self.store.settings),
            urls=FunctionUrlControl(self.registry, self.store, settings.port),
            provisioned=self.provisioned,
            credentials=credentials,
            invoker=self.invoker,
            logs=self.logs,
            signer=CodeUrlSigner(_secret_key(data / "secret.key")),
            region=settings.region,
            account=settings.account_id,
        )
        self.app = LaminaApp(services, on_startup=self.start, on_shutdown=self.stop)

    async def _enqueue(self, function_name: str, qualifier: str | None, payload: bytes) -> None:
        await self.queue.enqueue(function_name, qualifier, payload)

    async def start(self) -> None:
        self.versions.resume(await self.registry.recover())
        self.launcher.prestart(await self.registry.runtimes_in_use())
        self.pool.start()
        self.invoker.provisioner.start()
        await self.provisioned.recover()
        self.queue.start()
        # Everything allocated so far lives as long as the server: keep it out of the garbage
        # collector's sight, so full collections stay short (they were 9-11 ms pauses).
        gc.collect()
        gc.freeze()
        available = ", ".join(self.runtimes.available()) or "none"
        log.info(
            "lamina ready on %s (data %s, sandbox %s, runtimes %s, memory budget %d MB)",
            self.settings.endpoint,
            self.settings.data_dir,
            self.backend.name,
            available,
            self.pool.memory_budget_mb,
        )

    async def stop(self) -> None:
        """Graceful stop: in-flight work finishes, environments stop, state is flushed."""
        await self.versions.close()
        await self.registry.close()
        await self.queue.close()
        await self.invoker.close()
        await self.backend.close()
        self.logs.close()
        self.store.close()
        log.info("lamina stopped")


class GracefulServer(uvicorn.Server):
    """Stops gracefully on the first SIGINT/SIGTERM and at once on the second.

    Unlike uvicorn's default it does not re-raise the signal after a clean stop, so a graceful
    shutdown exits with status 0.
    """

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit:
            self.force_exit = True
        else:
            self.should_exit = True


def _credentials(settings: Settings) -> dict[str, Credential] | None:
    """The access keys requests must be signed with, or None when checks are off."""
    if settings.auth == "none":
        log.warning(
            "auth 'none': requests are not authenticated; anyone who can reach %s can deploy "
            "and run code",
            settings.endpoint,
        )
        return None
    entries = settings.credentials or ("test:test",)
    credentials = {}
    for entry in entries:
        key, secret, *account = entry.split(":")
        owner = account[0] if account else settings.account_id
        credentials[key] = Credential(key, secret, owner, f"arn:aws:iam::{owner}:root")
    return credentials


def _backend(settings: Settings) -> SandboxBackend:
    if settings.sandbox == "process":
        log.warning(
            "sandbox 'process': functions run as plain processes of user %s, without isolation; "
            "use it only for code you trust",
            os.getuid(),
        )
        return ProcessBackend()
    if settings.sandbox == "namespace":
        return _namespace_backend(settings)
    raise ValueError(f"unknown sandbox backend {settings.sandbox!r}")


def _namespace_backend(settings: Settings) -> NamespaceBackend:
    """The namespace sandbox, rootless when lamina is not root; refuses (SandboxUnavailableError)
    when a barrier is missing, or cgroups are while they are required."""
    rootless = os.geteuid() != 0
    work_dir = settings.data_dir / "sandbox"
    cgroups = Cgroups.discover(parent=settings.cgroup_parent)
    diagnosis = diagnose(cgroups, work_dir / "root", rootless=rootless)
    if diagnosis.problems:
        raise _no_isolation(diagnosis.problems)
    for note in diagnosis.notes:
        log.info("%s", note)
    if diagnosis.cgroup_problem:
        if settings.cgroups != "optional":
            raise _no_cgroups(diagnosis.cgroup_problem, diagnosis.unenforced)
        cgroups = Cgroups.none()
        log.warning(
            "environments get no cgroups (%s); --cgroups optional accepts that these limits "
            "are not enforced:%s",
            diagnosis.cgroup_problem,
            "".join(f"\n  - {limit}" for limit in diagnosis.unenforced),
        )
    if settings.network == "host":
        log.warning("network 'host': environments share the host's network, loopback included")
    network, egress = _network(settings)
    return NamespaceBackend(
        work_dir,
        cgroups,
        network=network,
        egress=egress,
        zygotes=settings.zygotes == "on",
        rootless=rootless,
    )


def _network(settings: Settings) -> tuple[str, EgressHost | None]:
    """The network mode environments get, and the host set up for ``egress``: chosen
    explicitly it must work; ``auto`` falls back to ``none`` and says why."""
    if settings.network not in ("auto", "egress"):
        return settings.network, None
    problem = egress_problem()
    if problem is None:
        try:
            egress = EgressHost(settings.egress_subnet)
        except OSError as exc:
            problem = str(exc)
    if problem is not None:
        if settings.network == "egress":
            raise SandboxUnavailableError(f"network 'egress' is not available: {problem}")
        log.warning("network: environments have loopback only ('none'): egress through NAT is "
                    "not available on this host: %s", problem)  # fmt: skip
        return "none", None
    log.info("network 'egress': environments reach out through NAT from %s; not the host, "
             "not each other", egress.network.subnet)  # fmt: skip
    if egress.network.resolvers.note:
        log.warning("network 'egress': %s", egress.network.resolvers.note)
    return "egress", egress


class SandboxUnavailableError(Exception):
    """The configured sandbox cannot isolate, or limit, functions on this host."""


def _no_isolation(problems: list[str]) -> SandboxUnavailableError:
    reasons = "".join(f"\n  - {p}" for p in problems)
    return SandboxUnavailableError(
        f"the namespace sandbox is not available on this host:{reasons}\n"
        "lamina will not run functions with less isolation than configured. To run them "
        "as plain processes, without isolation (only for code you trust), start it with "
        "--sandbox process."
    )


def _no_cgroups(problem: str, unenforced: list[str]) -> SandboxUnavailableError:
    limits = "".join(f"\n  - {limit}" for limit in unenforced)
    return SandboxUnavailableError(
        f"the namespace sandbox cannot give environments cgroups here: {problem}\n"
        f"Without them, these limits are not enforced:{limits}\n"
        "Give lamina a cgroup subtree its user may write (--cgroup-parent PATH, see "
        "docs/security.md), or accept running without these limits: --cgroups optional."
    )


def _raise_open_files_limit() -> None:
    """Each environment holds three descriptors and each client connection one: lift the soft
    limit (often 1,024) to the hard one so a thousand environments fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            log.warning("cannot raise the open files limit from %d", soft)


def _secret_key(path: Path) -> bytes:
    """The server's signing key, created on first start with owner-only permissions."""
    if path.exists():
        return path.read_bytes()
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key


def serve(settings: Settings) -> int:
    """Run the server until SIGINT or SIGTERM; returns the exit status."""
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    _raise_open_files_limit()
    try:
        server = LaminaServer(settings)
    except SandboxUnavailableError as exc:
        log.error("%s", exc)
        return 2
    config = uvicorn.Config(
        server.app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_config=None,
        log_level=settings.log_level.lower(),
        server_header=False,
        date_header=False,
        timeout_keep_alive=75,
    )
    GracefulServer(config).run()
    return 0
