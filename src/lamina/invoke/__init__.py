"""The data plane: resolve the function, run the invocation, shape the result."""

from lamina.invoke.admission import Admission
from lamina.invoke.service import Invoker

__all__ = ["Admission", "Invoker"]
