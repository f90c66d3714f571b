"""The control plane: functions, versions, aliases, URLs, their settings and their checks."""

from lamina.control.aliases import AliasControl
from lamina.control.async_config import EventInvokeConfigs
from lamina.control.code_signing import CodeSigningControl
from lamina.control.concurrency import ConcurrencyControl
from lamina.control.function_settings import FunctionSettings
from lamina.control.functions import FunctionRegistry, FunctionView
from lamina.control.layers import LayerControl
from lamina.control.permissions import PermissionControl
from lamina.control.provisioned import ProvisionedConcurrencyControl
from lamina.control.tags import TagControl
from lamina.control.urls import FunctionUrlControl
from lamina.control.versions import VersionControl

__all__ = [
    "AliasControl",
    "CodeSigningControl",
    "ConcurrencyControl",
    "EventInvokeConfigs",
    "FunctionRegistry",
    "FunctionSettings",
    "FunctionUrlControl",
    "FunctionView",
    "LayerControl",
    "PermissionControl",
    "ProvisionedConcurrencyControl",
    "TagControl",
    "VersionControl",
]
