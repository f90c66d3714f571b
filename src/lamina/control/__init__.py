"""The control plane: functions, versions, aliases and their settings, and the checks on them."""

from lamina.control.aliases import AliasControl
from lamina.control.async_config import EventInvokeConfigs
from lamina.control.code_signing import CodeSigningControl
from lamina.control.concurrency import ConcurrencyControl
from lamina.control.function_settings import FunctionSettings
from lamina.control.functions import FunctionRegistry, FunctionView
from lamina.control.layers import LayerControl
from lamina.control.permissions import PermissionControl
from lamina.control.tags import TagControl
from lamina.control.versions import VersionControl

__all__ = [
    "AliasControl",
    "CodeSigningControl",
    "ConcurrencyControl",
    "EventInvokeConfigs",
    "FunctionRegistry",
    "FunctionSettings",
    "FunctionView",
    "LayerControl",
    "PermissionControl",
    "TagControl",
    "VersionControl",
]
