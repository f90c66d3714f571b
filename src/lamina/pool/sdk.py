"""The AWS SDK for Python inside environments, as AWS's Python runtimes include it.

lamina's own boto3 and its dependencies are pure Python; a folder of links to them is appended
to the function's ``sys.path`` (after its own code and layers, so a bundled boto3 wins). They
need Python 3.10 or newer, so python3.9 functions do without, as their packages must then bring
their own.
"""

from __future__ import annotations

import contextlib
import importlib.util
from pathlib import Path

SDK_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
SDK_MIN_PYTHON = (3, 10)


def prepare_python_sdk(folder: Path) -> Path | None:
    """Link the SDK's packages into ``folder``; None if one of them cannot be found."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in SDK_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            return None
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        link = folder / source.name
        if link.is_symlink() and link.resolve() == source.resolve():
            continue
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        link.symlink_to(source)
    return folder


def runtime_version(identifier: str) -> tuple[int, int]:
    """(3, 12) for ``python3.12``."""
    major, _, minor = identifier.removeprefix("python").partition(".")
    return int(major), int(minor)
