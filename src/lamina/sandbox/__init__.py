"""Making and destroying isolated execution environments, behind one interface per mechanism."""

from lamina.sandbox.base import Sandbox, SandboxBackend, SandboxSpec
from lamina.sandbox.process import ProcessBackend

__all__ = ["ProcessBackend", "Sandbox", "SandboxBackend", "SandboxSpec"]
