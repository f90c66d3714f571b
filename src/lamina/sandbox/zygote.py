"""Zygotes: one pre-initialised interpreter per Python runtime, from which environments fork.

Executing a fresh interpreter and importing the managed runtime costs tens of milliseconds on
every cold start. A zygote pays it once: it is started with the runtime's own interpreter
(``python -s -E -c BOOT <lamina's folder> <runtime folder>``), loads the managed runtime
under the very module and file names it has inside an environment (``/var/runtime/...``, so
tracebacks look the same either way), freezes its heap for the garbage collector (forked
children then share those pages instead of copying them) and serves spawn requests exactly
as the jailer does (``jailer.main``). The runtime process of each sandbox it makes — after
the cgroup, the namespaces, the root file system, the dropped privileges and the seccomp
filter, as for any environment — runs the pre-loaded bootstrap in place instead of
executing the interpreter.

What a zygote never holds: function code (it is imported only in the sandboxed child), and
any function's settings (the specification is read by the forked child alone, see
``jailer.spawn``). Its children share its hash seed; ``random`` reseeds itself after a fork.

A function that sets variables read at interpreter start-up (``PYTHON*``) is started the
classic way, by executing the interpreter (see ``Launcher``).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import time
import traceback
import types
from pathlib import Path
from typing import Any, NoReturn

from lamina.sandbox import jailer, rootfs

BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from lamina.sandbox import zygote; zygote.main(sys.argv[1], sys.argv[2])"
)
"""The ``-c`` program that starts a zygote (argv: lamina's parent folder, the runtime folder)."""

WARM_MODULES = (
    "json", "decimal", "logging", "traceback", "socket", "contextlib", "importlib.util",
    "datetime", "uuid", "base64", "hashlib", "urllib.parse", "typing", "dataclasses",
    "collections", "functools", "re", "enum", "copy", "struct", "threading",
)  # fmt: skip
"""Standard-library modules most handlers import, loaded once in the zygote."""


def main(lamina_dir: str, runtime_dir: str) -> None:
    bootstrap = preload(Path(runtime_dir))
    jailer.run_in_place = lambda request: _run(bootstrap, lamina_dir, request)
    gc.collect()
    gc.freeze()
    jailer.main()


def preload(runtime_dir: Path) -> types.ModuleType:
    """Load the managed runtime as it is named inside an environment."""
    _load("_lamina_protocol", runtime_dir / "protocol.py", f"{rootfs.RUNTIME_DIR}/protocol.py")
    bootstrap = _load(
        "_lamina_bootstrap",
        runtime_dir / "python" / "bootstrap.py",
        f"{rootfs.RUNTIME_DIR}/python/bootstrap.py",
    )
    for name in WARM_MODULES:
        __import__(name)
    return bootstrap


def _load(name: str, source: Path, inside: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = inside
    sys.modules[name] = module
    exec(compile(source.read_text(), inside, "exec"), module.__dict__)
    return module


def _run(bootstrap: types.ModuleType, lamina_dir: str, request: dict[str, Any]) -> NoReturn:
    """In the sandboxed runtime process: become what executing ``argv`` would have made."""
    code = 1
    try:
        os.environ.clear()
        os.environ.update(request["env"])
        time.tzset()
        argv = request["argv"]  # interpreter, -s, bootstrap script, its arguments
        sys.argv = list(argv[2:])
        sys.path[:] = [p for p in sys.path if p not in (lamina_dir, "")]
        for name in [m for m in sys.modules if m == "lamina" or m.startswith("lamina.")]:
            del sys.modules[name]
        bootstrap.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # leaving anyway; nowhere to report it
                stream.flush()
    os._exit(code)
