"""Content-addressed storage of deployment packages."""

from lamina.artifacts.store import MAX_UNZIPPED_BYTES, CodeArtifact, CodeStore, InvalidZipError

__all__ = ["MAX_UNZIPPED_BYTES", "CodeArtifact", "CodeStore", "InvalidZipError"]
