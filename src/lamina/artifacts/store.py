"""Deployment packages, stored once per content and unpacked once per content.

Layout under the code folder::

    zips/<sha256 hex>.zip     the package exactly as uploaded (served back by GetFunction)
    tree/<sha256 hex>/        its unpacked files, read-only, shared by every environment
    opt/<digest>/             layers merged in order (what a function sees as /opt): hard
                              links into the layers' trees, built once per combination

Unpacking refuses anything that could write outside the tree (absolute names, ``..``,
symbolic links, device files) and counts the bytes it actually writes, so a zip that lies about
its sizes cannot exceed the unzipped limit. Writes go to a temporary name first and are renamed
into place, so a crash never leaves a half-written package behind.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MAX_UNZIPPED_BYTES = 262_144_000
_CHUNK = 1 << 20


class InvalidZipError(Exception):
    """The package is not a zip lamina will unpack; the message says why."""


@dataclass(frozen=True)
class CodeArtifact:
    sha256_hex: str
    size: int
    unzipped_size: int


class CodeStore:
    """Put, find and remove deployment packages by their SHA-256."""

    def __init__(
        self,
        root: Path,
        max_unzipped_bytes: int = MAX_UNZIPPED_BYTES,
        pycache_root: Path | None = None,
    ) -> None:
        """``pycache_root``: where runtimes write bytecode compiled from the trees (Python's
        ``pycache_prefix``), one folder per package, removed with the package."""
        self.root = root
        self.pycache_root = pycache_root
        self.max_unzipped_bytes = max_unzipped_bytes
        self._zips = root / "zips"
        self._trees = root / "tree"
        self._merged = root / "opt"
        for folder in (self._zips, self._trees, self._merged):
            folder.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> CodeArtifact:
        """Validate, store and unpack a zip; identical content is stored once.

        Blocking: call it from a worker thread for large packages.
        """
        sha = hashlib.sha256(data).hexdigest()
        unzipped = self._unpack_once(sha, data)
        zip_path = self.zip_path(sha)
        if not zip_path.exists():
            _write_atomically(zip_path, data)
        return CodeArtifact(sha, len(data), unzipped)

    def check(self, data: bytes) -> CodeArtifact:
        """Validate a zip as ``put`` would, storing nothing (for dry runs)."""
        archive = _open(data)
        with archive:
            members = _checked_members(archive, self.max_unzipped_bytes)
        unzipped = sum(m.file_size for m in members)
        return CodeArtifact(hashlib.sha256(data).hexdigest(), len(data), unzipped)

    def tree_path(self, sha256_hex: str) -> Path:
        return self._trees / sha256_hex

    def zip_path(self, sha256_hex: str) -> Path:
        return self._zips / f"{sha256_hex}.zip"

    def unzipped_size(self, sha256_hex: str) -> int:
        """The package's unpacked size, read from the zip's directory (blocking)."""
        with zipfile.ZipFile(self.zip_path(sha256_hex)) as archive:
            return sum(info.file_size for info in archive.infolist())

    def merged_path(self, layer_shas: Sequence[str]) -> Path:
        """Where the merge of these layers (in this order) is, once ``merge`` has built it."""
        digest = hashlib.sha256("\n".join(layer_shas).encode()).hexdigest()
        return self._merged / digest

    def merge(self, layer_shas: Sequence[str]) -> Path:
        """Build (once) the folder of these layers' files merged in order, later layers
        replacing earlier ones' files, as Lambda extracts layers into /opt. Blocking."""
        target = self.merged_path(layer_shas)
        if target.exists():
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=self._merged))
        try:
            for sha in layer_shas:
                _link_tree(self.tree_path(sha), staging)
            _seal(staging)
            staging.rename(target)
        except BaseException:
            _make_writable(staging)
            shutil.rmtree(staging, ignore_errors=True)
            if not target.exists():  # else another caller built the same merge first
                raise
        return target

    def clear_merged(self) -> None:
        """Remove every merged layer folder (they are rebuilt on demand); call only while no
        environment runs."""
        for folder in self._merged.iterdir():
            _make_writable(folder)
            shutil.rmtree(folder, ignore_errors=True)

    def stored(self) -> list[str]:
        """The hashes of every stored package."""
        return [p.stem for p in self._zips.glob("*.zip")]

    def remove(self, sha256_hex: str) -> None:
        """Delete a package and its tree; missing ones are ignored."""
        self.zip_path(sha256_hex).unlink(missing_ok=True)
        tree = self.tree_path(sha256_hex)
        if tree.exists():
            _make_writable(tree)
            shutil.rmtree(tree, ignore_errors=True)
        if self.pycache_root is not None:
            shutil.rmtree(self.pycache_root / sha256_hex, ignore_errors=True)

    def _unpack_once(self, sha: str, data: bytes) -> int:
        archive = _open(data)
        with archive:
            members = _checked_members(archive, self.max_unzipped_bytes)
            tree = self.tree_path(sha)
            if tree.exists():
                return sum(m.file_size for m in members)
            staging = Path(tempfile.mkdtemp(prefix=f".{sha}.", dir=self._trees))
            try:
                written = _extract(archive, members, staging, self.max_unzipped_bytes)
                _seal(staging)
                staging.rename(tree)
            except BaseException:
                _make_writable(staging)
                shutil.rmtree(staging, ignore_errors=True)
                if tree.exists():  # another writer won the race with the same content
                    return sum(m.file_size for m in members)
                raise
        return written


def _open(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise InvalidZipError("the package is not a valid zip file") from exc


def _checked_members(archive: zipfile.ZipFile, limit: int) -> list[zipfile.ZipInfo]:
    members = archive.infolist()
    total = 0
    for info in members:
        _check_name(info.filename)
        mode = info.external_attr >> 16
        if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            kind = "a symbolic link" if stat.S_ISLNK(mode) else "a special file"
            raise InvalidZipError(f"entry {info.filename!r} is {kind}")
        if info.flag_bits & 0x1:
            raise InvalidZipError(f"entry {info.filename!r} is encrypted")
        total += info.file_size
    if total > limit:
        raise InvalidZipError(f"Unzipped size must be smaller than {limit} bytes")
    return members


def _check_name(name: str) -> None:
    if not name or "\x00" in name:
        raise InvalidZipError("an entry has an empty or invalid name")
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise InvalidZipError(f"entry {name!r} has an absolute path")
    if ".." in path.parts:
        raise InvalidZipError(f"entry {name!r} escapes the code folder")


def _extract(
    archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], dest: Path, limit: int
) -> int:
    written = 0
    for info in members:
        target = dest / info.filename
        try:
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, target.open("wb") as out:
                while chunk := src.read(_CHUNK):
                    written += len(chunk)
                    if written > limit:
                        raise InvalidZipError(f"Unzipped size must be smaller than {limit} bytes")
                    out.write(chunk)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
            raise InvalidZipError(f"entry {info.filename!r} cannot be unpacked: {exc}") from exc
        executable = (info.external_attr >> 16) & 0o111
        target.chmod(0o555 if executable else 0o444)
    return written


def _seal(tree: Path) -> None:
    """Make every folder read-only and traversable; files were sealed as they were written."""
    for folder, _dirs, _files in os.walk(tree, topdown=False):
        Path(folder).chmod(0o555)


def _link_tree(source: Path, dest: Path) -> None:
    """Hard-link every file of ``source`` into ``dest``, replacing what is in the way."""
    for folder, dirs, files in os.walk(source):
        relative = Path(folder).relative_to(source)
        for name in dirs:
            target = dest / relative / name
            if target.exists() and not target.is_dir():
                target.unlink()
            target.mkdir(exist_ok=True)
        for name in files:
            target = dest / relative / name
            if target.is_dir():
                _make_writable(target)
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
            os.link(Path(folder) / name, target)


def _make_writable(tree: Path) -> None:
    for folder, _dirs, _files in os.walk(tree):
        Path(folder).chmod(0o755)


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
