"""Starting a new execution environment for a function: the cold-start path.

Builds the sandbox specification from the function's configuration (interpreter, bootstrap,
the environment variables AWS sets, the user's variables) and waits for the runtime's init.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from lamina import arns
from lamina.errors import SandboxError
from lamina.model import FunctionConfig
from lamina.pool.commands import command_for
from lamina.pool.environment import Environment, LogTarget
from lamina.pool.sdk import SDK_MIN_PYTHON, runtime_version
from lamina.runtimes import CUSTOM_RUNTIMES, Runtime, RuntimeCatalog
from lamina.sandbox import Mounts, SandboxBackend, SandboxSpec, View
from lamina.telemetry import LogStore, lines

if TYPE_CHECKING:
    from lamina.pool.snapshots import SnapshotManager

INIT_TIMEOUT_S = 10.0
"""AWS gives the init phase ten seconds; lamina allows the function's timeout if that is longer."""
PROVISIONED_INIT_TIMEOUT_S = 130.0
"""Provisioned environments may initialise for 130 s or the function's timeout, if longer."""
ON_DEMAND = "on-demand"
PROVISIONED = "provisioned-concurrency"
"""Values of ``AWS_LAMBDA_INITIALIZATION_TYPE``."""
SNAPSHOT_INIT_TIMEOUT_S = 130.0
"""The init phase of a SnapStart version (at publish) may take this long, or the function's
timeout if longer (AWS's rule); the before-snapshot hooks count in it."""
MB_PER_VCPU = 1769
"""AWS's CPU share: one vCPU per 1,769 MB; a SnapStart template gets at least one."""
RESTORE_TIMEOUT_S = 10.0
"""A restore, after-restore hooks included, must finish within this (AWS: 10 seconds)."""
SNAPSHOT_VARIABLE = "_LAMINA_SNAPSHOT"
"""Set (to 1) only in a SnapStart template's environment: its runtime waits as a template."""

_BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


class Launcher:
    def __init__(
        self,
        backend: SandboxBackend,
        runtimes: RuntimeCatalog,
        code_root: Callable[[str], Path],
        merged_layers: Callable[[Sequence[str]], Path],
        logs: LogStore,
        region: str,
        pycache_dir: Path,
        sdk_path: Path | None = None,
    ) -> None:
        self.backend = backend
        self.runtimes = runtimes
        self.code_root = code_root
        self.merged_layers = merged_layers
        self.logs = logs
        self.region = region
        self.pycache_dir = pycache_dir
        self.sdk_path = sdk_path
        self.runtime_dir = Path(str(resources.files("lamina.runtime")))
        self._extensions_in: dict[Path, bool] = {}
        self.snapshots: SnapshotManager | None = None
        """Set by the composition root when the sandbox can restore from snapshots."""

    async def start(
        self, config: FunctionConfig, key: str, initialization_type: str = ON_DEMAND
    ) -> Environment:
        """A new environment for ``config``, ready for its first invocation: restored from the
        version's snapshot for a SnapStart version, else a cold start."""
        if self.snapshots is not None and await self.can_snapshot(config):
            return await self.snapshots.restore(config, key)
        return await self.cold_start(config, key, initialization_type=initialization_type)

    async def can_snapshot(self, config: FunctionConfig) -> bool:
        """Whether new environments of ``config`` come from a SnapStart snapshot: a SnapStart
        version without external extensions (a restored child could not take the template's
        extension processes along, so such versions start cold, docs/snapstart.md)."""
        if not config.snap_start_optimized:
            return False
        return not self._has_extensions(await self._layers_dir(config))

    async def cold_start(
        self,
        config: FunctionConfig,
        key: str,
        *,
        snapshot: bool = False,
        initialization_type: str = ON_DEMAND,
    ) -> Environment:
        """Create a sandbox for ``config`` and wait until its init has finished; with
        ``snapshot``, the environment becomes the version's SnapStart template instead."""
        runtime = self._runtime(config)
        environment_id, log = self._log(config, runtime, lines.init_start)
        spec = await self._spec(
            config, runtime, environment_id, log.stream, snapshot, initialization_type
        )
        started = time.perf_counter()
        sandbox = await self.backend.create(spec)
        env = Environment(sandbox, key, config.memory_mb, log)
        init_limit_s = INIT_TIMEOUT_S
        if snapshot:
            init_limit_s = SNAPSHOT_INIT_TIMEOUT_S
        elif initialization_type == PROVISIONED:
            init_limit_s = PROVISIONED_INIT_TIMEOUT_S
        try:
            await env.wait_ready(started, max(init_limit_s, float(config.timeout_s)))
        except BaseException:
            await env.destroy()
            raise
        return env

    async def restore_from(
        self, template: Environment, config: FunctionConfig, key: str
    ) -> Environment:
        """A new environment forked from a SnapStart template (``pool/snapshots.py``)."""
        environment_id, log = self._log(config, self._runtime(config), lines.restore_start)
        started = time.perf_counter()
        sandbox = await self.backend.restore(template.sandbox, environment_id, config.memory_mb)
        env = Environment(sandbox, key, config.memory_mb, log)
        try:
            await env.wait_restored(started, RESTORE_TIMEOUT_S)
        except BaseException:
            await env.destroy()
            raise
        return env

    def _log(
        self, config: FunctionConfig, runtime: Runtime, first_line: Callable[[str, str], str]
    ) -> tuple[str, LogTarget]:
        """A new environment's id and log stream, begun with INIT_START or RESTORE_START."""
        environment_id = uuid.uuid4().hex
        stream = lines.stream_name(config.version, environment_id)
        log = LogTarget(self.logs, config.log_group_name, stream)
        version_arn = arns.runtime_version_arn(self.region, runtime.version_digest)
        log.store.append(log.group, stream, _now_ms(), first_line(config.runtime, version_arn))
        return environment_id, log

    def _runtime(self, config: FunctionConfig) -> Runtime:
        runtime = self.runtimes.get(config.runtime)
        if runtime is None:
            raise SandboxError(f"runtime {config.runtime} is not available on this host")
        return runtime

    async def _spec(
        self,
        config: FunctionConfig,
        runtime: Runtime,
        environment_id: str,
        stream: str,
        snapshot: bool,
        initialization_type: str,
    ) -> SandboxSpec:
        python = runtime.family == "python"
        mounts = Mounts(
            interpreter=runtime.interpreter,
            task_root=self.code_root(config.code_sha256),
            runtime_dir=self.runtime_dir,
            sdk_dir=self._sdk_for(runtime),
            # Per package, so no function can plant bytecode for another's code.
            pycache_dir=self.pycache_dir / config.code_sha256 if python else None,
            opt_dir=await self._layers_dir(config),
        )
        view = self.backend.view(mounts)
        try:
            command = command_for(runtime, view, config.memory_mb, config.environment)
        except ValueError as exc:
            raise SandboxError(str(exc)) from exc
        env = self.environment_variables(config, stream, view, command.env, initialization_type)
        env.pop(SNAPSHOT_VARIABLE, None)
        if snapshot:
            env[SNAPSHOT_VARIABLE] = "1"
        return SandboxSpec(
            environment_id=environment_id,
            argv=command.argv,
            env=env,
            cwd=view.task_root,
            mounts=mounts,
            memory_mb=config.memory_mb,
            ephemeral_storage_mb=config.ephemeral_storage_mb,
            preloadable=command.preloadable,
            runtime_api=command.runtime_api,
            entrypoints=command.entrypoints,
            extensions_dir=self._extensions_dir(mounts.opt_dir, view),
            cpu_mb=max(config.memory_mb, MB_PER_VCPU) if snapshot else None,
        )

    def prestart(self, runtime_ids: set[str]) -> None:
        """Get the sandbox ready for these runtimes (their zygotes start in the background)."""
        for identifier in sorted(runtime_ids):
            runtime = self.runtimes.get(identifier)
            if runtime is not None and runtime.family == "python":
                self.backend.prestart(runtime.interpreter, self.runtime_dir)

    def _sdk_for(self, runtime: Runtime) -> Path | None:
        """lamina's boto3 for Python runtimes new enough to run it; AWS's Node.js runtimes
        carry the AWS SDK for JavaScript v3, which lamina does not provide (stdlib only)."""
        if runtime.family != "python" or runtime_version(runtime.identifier) < SDK_MIN_PYTHON:
            return None
        return self.sdk_path

    def _extensions_dir(self, opt_dir: Path | None, view: View) -> str | None:
        """``/opt/extensions`` as the environment sees it, when the layers bring any file
        there."""
        return f"{view.opt_dir}/extensions" if self._has_extensions(opt_dir) else None

    def _has_extensions(self, opt_dir: Path | None) -> bool:
        """Whether merged layers bring external extensions (merged layer folders never change,
        so each is looked at once)."""
        if opt_dir is None:
            return False
        found = self._extensions_in.get(opt_dir)
        if found is None:
            folder = opt_dir / "extensions"
            found = folder.is_dir() and any(entry.is_file() for entry in folder.iterdir())
            self._extensions_in[opt_dir] = found
        return found

    async def _layers_dir(self, config: FunctionConfig) -> Path | None:
        """The function's layers merged in order, built on the first cold start that needs it."""
        if not config.layers:
            return None
        shas = [layer.code_sha256 for layer in config.layers]
        return await asyncio.to_thread(self.merged_layers, shas)

    def environment_variables(
        self,
        config: FunctionConfig,
        stream: str,
        view: View,
        runtime_env: Mapping[str, str] | None = None,
        initialization_type: str = ON_DEMAND,
    ) -> dict[str, str]:
        """The variables AWS sets in every environment, then those of the runtime's family
        (``runtime_env``), then the user's own."""
        env: dict[str, str] = {
            "PATH": f"{Path(view.interpreter).parent}:{_BASE_PATH}:{view.opt_dir}/bin",
            "LD_LIBRARY_PATH": f"{view.task_root}:{view.task_root}/lib:{view.opt_dir}/lib",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "LAMBDA_TASK_ROOT": view.task_root,
            "LAMBDA_RUNTIME_DIR": view.runtime_dir,
            "_HANDLER": config.handler,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": config.name,
            "AWS_LAMBDA_FUNCTION_VERSION": config.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": config.log_group_name,
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": initialization_type,
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        }
        if config.snap_start_optimized:
            # One snapshot serves many environments: AWS leaves out what names just one.
            env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "snap-start"
            del env["AWS_LAMBDA_LOG_GROUP_NAME"], env["AWS_LAMBDA_LOG_STREAM_NAME"]
        if config.application_log_level and config.log_format == "JSON":
            env["AWS_LAMBDA_LOG_LEVEL"] = config.application_log_level
        if view.sdk_dir is not None:
            env["_LAMINA_SDK_PATH"] = view.sdk_dir
        if view.opt_dir != "/opt":
            env["_LAMINA_OPT_DIR"] = view.opt_dir
        env.update(runtime_env or {})
        if config.runtime in CUSTOM_RUNTIMES:
            del env["AWS_EXECUTION_ENV"]  # AWS sets none for custom runtimes
            env["PATH"] = f"{_BASE_PATH}:{view.opt_dir}/bin"
        env.update(_user_variables(config.environment))
        return env


def _user_variables(variables: Mapping[str, str] | None) -> Mapping[str, str]:
    return variables or {}


def _now_ms() -> int:
    return int(time.time() * 1000)
