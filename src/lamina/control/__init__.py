"""The control plane: functions, versions, aliases, URLs, their settings and their checks."""

from lamina.control.aliases import AliasControl
from lamina.control.async_config import EventInvokeConfigs
from lamina.control.concurrency import ConcurrencyControl
from lamina.control.functions import FunctionRegistry, FunctionView
from lamina.control.permissions import PermissionControl
from lamina.control.tags import TagControl
from lamina.control.urls import FunctionUrlControl
from lamina.control.versions import VersionControl

__all__ = [
    "AliasControl",
    "ConcurrencyControl",
    "EventInvokeConfigs",
    "FunctionRegistry",
    "FunctionUrlControl",
    "FunctionView",
    "PermissionControl",
    "TagControl",
    "VersionControl",
]
