"""Making and destroying isolated execution environments, behind one interface per mechanism."""

from lamina.sandbox.base import Mounts, Sandbox, SandboxBackend, SandboxSpec, View
from lamina.sandbox.process import ProcessBackend

__all__ = ["Mounts", "ProcessBackend", "Sandbox", "SandboxBackend", "SandboxSpec", "View"]
