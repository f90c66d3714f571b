"""Content-addressed storage of deployment packages."""

from lamina.artifacts.store import CodeArtifact, CodeStore, InvalidZipError

__all__ = ["CodeArtifact", "CodeStore", "InvalidZipError"]
