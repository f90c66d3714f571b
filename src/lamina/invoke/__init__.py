"""The data plane: resolve the function, run the invocation, shape the result."""

from lamina.invoke.service import Invoker

__all__ = ["Invoker"]
