"""The control plane: the function registry and the checks on everything it stores."""

from lamina.control.functions import FunctionRegistry, FunctionView

__all__ = ["FunctionRegistry", "FunctionView"]
