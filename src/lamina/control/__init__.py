"""The control plane: the function registry and the checks on everything it stores."""

from lamina.control.async_config import EventInvokeConfigs
from lamina.control.concurrency import ConcurrencyControl
from lamina.control.functions import FunctionRegistry, FunctionView

__all__ = ["ConcurrencyControl", "EventInvokeConfigs", "FunctionRegistry", "FunctionView"]
