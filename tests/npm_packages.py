"""npm packages the tests need, installed once per machine and cached outside the repository.

AWS's Node.js runtime interface client (``aws-lambda-ric``) is not plain JavaScript: its npm
install scripts build a native addon from sources bundled in the package (curl with its
shipped ``configure``, aws-lambda-cpp with cmake, the addon with node-gyp against the headers
installed beside ``node``). That takes minutes, so it is done once, by the first test that
needs it, under ``~/.cache/lamina-tests/`` (``$XDG_CACHE_HOME`` if set), and reused by every
later run. A lock file keeps concurrent test runs from building it twice; the build happens in
a scratch folder renamed into place only once it works, so a failed or interrupted build leaves
nothing half-made behind.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Mapping
from pathlib import Path

RIC_VERSION = "4.0.2"
"""The newest ``aws-lambda-ric``; it ships curl's generated ``configure``, so no autotools are
needed (3.x runs curl's ``buildconf``, which needs autoconf, automake and libtool)."""

BUILD_TIMEOUT_S = 1200


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path("~/.cache").expanduser()) / "lamina-tests"


def aws_lambda_ric(version: str = RIC_VERSION) -> Path:
    """The ``node_modules`` folder of an ``npm install aws-lambda-ric@<version>``, built on
    first use. Raises RuntimeError with the end of npm's output when the build fails."""
    home = cache_root() / f"aws-lambda-ric-{version}"
    modules = home / "node_modules"
    if _complete(modules):
        return modules
    home.parent.mkdir(parents=True, exist_ok=True)
    with (home.parent / f"aws-lambda-ric-{version}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be building it: wait for it
        if not _complete(modules):
            _build(home, f"aws-lambda-ric@{version}")
    return modules


def _complete(modules: Path) -> bool:
    return (modules / "aws-lambda-ric" / "rapid-client.node").is_file()


def _build(home: Path, spec: str) -> None:
    scratch = home.with_name(home.name + ".building")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    # npm 12 runs a dependency's install scripts only when the project allows them.
    manifest = {"private": True, "allowScripts": {spec: True}}
    (scratch / "package.json").write_text(json.dumps(manifest) + "\n")
    command = [
        "npm", "install", spec, "--no-save", "--no-package-lock", "--no-audit", "--no-fund",
        "--ignore-scripts=false", "--engine-strict=false", "--foreground-scripts",
    ]  # fmt: skip
    log = scratch / "npm-install.log"
    with log.open("wb") as out:
        done = subprocess.run(
            command, cwd=scratch, stdout=out, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT_S
        )
    if done.returncode != 0 or not _complete(scratch / "node_modules"):
        tail = log.read_text(errors="replace")[-4000:]
        raise RuntimeError(f"{' '.join(command)} in {scratch} failed ({done.returncode}):\n{tail}")
    shutil.rmtree(home, ignore_errors=True)
    scratch.rename(home)


def function_zip(
    modules: Path, files: Mapping[str, str | bytes], executable: tuple[str, ...]
) -> bytes:
    """A deployment package: ``files`` at its root and ``modules`` as its ``node_modules``,
    every file with its mode (npm's ``.bin`` links, which nothing here needs, are left out).
    Entries carry no timestamps, so the same input always gives the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            _add(archive, name, content, 0o755 if name in executable else 0o644)
        for path in sorted(modules.rglob("*")):
            if path.is_file() and not path.is_symlink():
                name = f"node_modules/{path.relative_to(modules)}"
                _add(archive, name, path.read_bytes(), path.stat().st_mode & 0o777)
    return buffer.getvalue()


def _add(archive: zipfile.ZipFile, name: str, content: str | bytes, mode: int) -> None:
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, content)
