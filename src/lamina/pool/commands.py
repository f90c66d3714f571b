"""How each runtime family is started inside an environment: its command line and variables.

One function per family, so adding a runtime (Node.js, custom runtimes) adds a function here
and touches nothing else of the cold-start path. The variables are the ones AWS's own start-up
script of that family sets (``NODE_PATH`` for Node.js); the launcher adds those every runtime
gets, and the function's own variables come last.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lamina.runtimes import Runtime
from lamina.sandbox import View


@dataclass(frozen=True)
class RuntimeCommand:
    argv: tuple[str, ...]
    """Paths as the environment sees them (``View``)."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Variables of this family's runtime, set unless the function sets them itself."""
    preloadable: bool = False
    """See ``SandboxSpec.preloadable``."""
    runtime_api: bool = False
    """See ``SandboxSpec.runtime_api``."""
    entrypoints: tuple[str, ...] = ()
    """See ``SandboxSpec.entrypoints``."""


def command_for(
    runtime: Runtime, view: View, memory_mb: int, user_env: Mapping[str, str] | None = None
) -> RuntimeCommand:
    """The command that starts ``runtime``'s runtime process."""
    if runtime.family == "python":
        return _python(view)
    if runtime.family == "provided":
        return _provided(view)
    if runtime.family == "nodejs":
        return _node(runtime, view, memory_mb, user_env or {})
    raise ValueError(f"lamina does not know how to start the {runtime.identifier} runtime")


def _python(view: View) -> RuntimeCommand:
    argv = [view.interpreter, "-s", f"{view.runtime_dir}/python/bootstrap.py"]
    if view.pycache_dir is not None:
        # Compiled function code goes here, not into the shared read-only code tree.
        argv.append(f"--pycache-prefix={view.pycache_dir}")
    return RuntimeCommand(tuple(argv), preloadable=True)


def _provided(view: View) -> RuntimeCommand:
    """The function's own ``bootstrap`` (from its code, else from a layer), as AWS looks."""
    entrypoints = (f"{view.task_root}/bootstrap", f"{view.opt_dir}/bootstrap")
    return RuntimeCommand((entrypoints[0],), runtime_api=True, entrypoints=entrypoints)


_NODE_HEAP_OPTIONS = ("--max-semi-space-size", "--max_semi_space_size",
                      "--max-old-space-size", "--max_old_space_size")  # fmt: skip


def _node(
    runtime: Runtime, view: View, memory_mb: int, user_env: Mapping[str, str]
) -> RuntimeCommand:
    """``node`` with the options AWS's Node.js start-up script passes: the V8 heap sized from the
    function's memory (5 % new space, 90 % old space) unless NODE_OPTIONS sizes it already."""
    argv = [view.interpreter, "--expose-gc", "--max-http-header-size=81920"]
    if not any(option in user_env.get("NODE_OPTIONS", "") for option in _NODE_HEAP_OPTIONS):
        argv += [
            f"--max-semi-space-size={max(1, memory_mb * 5 // 100)}",
            f"--max-old-space-size={memory_mb * 90 // 100}",
        ]
    argv.append(f"{view.runtime_dir}/node/bootstrap.js")
    major = runtime.identifier.removeprefix("nodejs").removesuffix(".x")
    node_path = ":".join(
        (
            f"{view.opt_dir}/nodejs/node{major}/node_modules",
            f"{view.opt_dir}/nodejs/node_modules",
            f"{view.runtime_dir}/node_modules",
            view.runtime_dir,
            view.task_root,
        )
    )
    return RuntimeCommand(tuple(argv), env={"NODE_PATH": node_path})
