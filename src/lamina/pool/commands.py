"""How each runtime family is started inside an environment: its command line.

One function per family, so adding a runtime (Node.js, custom runtimes) adds a function here
and touches nothing else of the cold-start path.
"""

from __future__ import annotations

from dataclasses import dataclass

from lamina.runtimes import Runtime
from lamina.sandbox import View


@dataclass(frozen=True)
class RuntimeCommand:
    argv: tuple[str, ...]
    """Paths as the environment sees them (``View``)."""
    preloadable: bool = False
    """See ``SandboxSpec.preloadable``."""
    runtime_api: bool = False
    """See ``SandboxSpec.runtime_api``."""
    entrypoints: tuple[str, ...] = ()
    """See ``SandboxSpec.entrypoints``."""


def command_for(runtime: Runtime, view: View) -> RuntimeCommand:
    """The command that starts ``runtime``'s runtime process."""
    if runtime.family == "python":
        return _python(view)
    if runtime.family == "provided":
        return _provided(view)
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
