"""The Store protocol: what the control plane and the data plane need from durable state.

Methods are coroutines so that a networked engine (PostgreSQL in cluster mode) fits behind the
same interface; the SQLite engine answers them without leaving the event loop's thread.
"""

from __future__ import annotations

from typing import Any, Protocol

from lamina.errors import InternalError
from lamina.model import Alias, FunctionConfig, FunctionUrlConfig, LayerVersion, ProvisionedConfig


class DuplicateError(InternalError):
    """An insert met an existing row with the same key."""


class Store(Protocol):
    async def get_function(self, name: str) -> FunctionConfig | None:
        """The function's $LATEST configuration, or None."""

    async def list_functions(self, after: str | None, limit: int) -> list[FunctionConfig]:
        """Functions ordered by name, starting after ``after`` (exclusive)."""

    async def insert_function(self, config: FunctionConfig) -> None:
        """Add a new function; DuplicateError if the name is taken."""

    async def replace_function(self, config: FunctionConfig, expected_revision: str) -> bool:
        """Store ``config`` only if the stored revision is ``expected_revision``.

        Returns False (and changes nothing) when the function is gone or was changed meanwhile.
        """

    async def delete_function(self, name: str) -> FunctionConfig | None:
        """Remove a function; returns what was removed, or None if there was nothing."""

    async def insert_version(self, config: FunctionConfig) -> None:
        """Add a published version (``config.version`` is its number); DuplicateError if taken."""

    async def get_version(self, name: str, version: str) -> FunctionConfig | None:
        """A published version, or None (also for a qualifier that is not a number)."""

    async def list_versions(self, name: str) -> list[FunctionConfig]:
        """Every published version of the function, oldest first."""

    async def replace_version(self, config: FunctionConfig) -> None:
        """Record a version's state transition; its code and settings never change."""

    async def delete_version(self, name: str, version: str) -> FunctionConfig | None:
        """Remove a published version; what was removed, or None."""

    async def insert_alias(self, alias: Alias) -> None:
        """Add an alias; DuplicateError if the name is taken."""

    async def put_alias(self, alias: Alias) -> None:
        """Store (replace) an alias."""

    async def get_alias(self, name: str, alias: str) -> Alias | None:
        """An alias of the function, or None."""

    async def list_aliases(self, name: str) -> list[Alias]:
        """The function's aliases, by name."""

    async def delete_alias(self, name: str, alias: str) -> bool:
        """Remove an alias and its function URL; False if there was no alias."""

    async def get_policy(self, name: str, qualifier: str) -> list[dict[str, Any]]:
        """The statements of a function's (qualifier '') or a qualifier's policy; [] if none."""

    async def put_policy(self, name: str, qualifier: str, statements: list[dict[str, Any]]) -> None:
        """Replace the statements; an empty list removes the policy."""

    async def add_layer_version(self, layer: LayerVersion) -> LayerVersion:
        """Store a new version of ``layer.layer_name`` under the next number that name has
        never used (``layer.version`` is ignored); returns it with its number."""

    async def get_layer_version(self, name: str, version: int) -> LayerVersion | None:
        """A layer version, or None."""

    async def list_layer_versions(self, name: str | None = None) -> list[LayerVersion]:
        """The versions of one layer (or of every layer), by name, newest first."""

    async def delete_layer_version(self, name: str, version: int) -> bool:
        """Remove a layer version; False if there was none."""

    async def get_layer_policy(self, name: str, version: int) -> dict[str, Any] | None:
        """A layer version's policy ``{"statements": [...], "revision_id": ...}``, or None."""

    async def put_layer_policy(
        self, name: str, version: int, policy: dict[str, Any] | None
    ) -> None:
        """Replace a layer version's policy (None removes it)."""

    async def account_usage(self) -> tuple[int, int]:
        """(number of functions, total code size in bytes)."""

    async def code_in_use(self, sha256_hex: str) -> bool:
        """Whether any function, version or layer version still refers to this package."""

    async def get_event_invoke_config(self, name: str, qualifier: str) -> dict[str, Any] | None:
        """The asynchronous invocation settings of (function, qualifier), or None."""

    async def put_event_invoke_config(
        self, name: str, qualifier: str, config: dict[str, Any]
    ) -> None:
        """Store (replace) the settings of (function, qualifier)."""

    async def delete_event_invoke_config(self, name: str, qualifier: str) -> bool:
        """Remove them; False if there were none."""

    async def list_event_invoke_configs(self, name: str) -> list[tuple[str, dict[str, Any]]]:
        """(qualifier, settings) of every qualifier of the function that has some."""

    async def insert_function_url(self, url: FunctionUrlConfig) -> None:
        """Add a function URL; DuplicateError if (function, qualifier) already has one."""

    async def replace_function_url(self, url: FunctionUrlConfig) -> None:
        """Store a changed configuration of an existing function URL (same url_id)."""

    async def get_function_url(self, name: str, qualifier: str) -> FunctionUrlConfig | None:
        """The URL of the function (qualifier '') or of one of its aliases, or None."""

    async def function_url_by_id(self, url_id: str) -> FunctionUrlConfig | None:
        """The URL whose host name starts with ``url_id``, or None: the lookup of every request
        a URL serves, so engines answer it from memory once they have seen it."""

    async def list_function_urls(self, name: str) -> list[FunctionUrlConfig]:
        """The function's URLs, the unqualified one first, then by alias name."""

    async def delete_function_url(self, name: str, qualifier: str) -> bool:
        """Remove a URL; False if there was none."""

    def close(self) -> None:
        """Release the engine; safe to call twice."""


class SettingsStore(Protocol):
    """Code signing configurations and the small per-function settings kept beside functions.

    A function's rows here are removed with the function (``Store.delete_function``).
    """

    async def put_code_signing_config(self, config_id: str, config: dict[str, Any]) -> None:
        """Store (replace) a code signing configuration."""

    async def get_code_signing_config(self, config_id: str) -> dict[str, Any] | None:
        """A code signing configuration, or None."""

    async def list_code_signing_configs(
        self, after: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Configurations ordered by id, starting after ``after`` (exclusive)."""

    async def delete_code_signing_config(self, config_id: str) -> bool:
        """Remove a configuration; False if there was none."""

    async def set_function_code_signing(self, name: str, config_id: str | None) -> None:
        """Attach a configuration to a function, or detach it (None)."""

    async def get_function_code_signing(self, name: str) -> str | None:
        """The id of the configuration the function uses, or None."""

    async def functions_using_code_signing(
        self, config_id: str, after: str | None, limit: int
    ) -> list[str]:
        """Names of the functions using a configuration, by name, after ``after``."""

    async def get_function_setting(
        self, name: str, qualifier: str, kind: str
    ) -> dict[str, Any] | None:
        """One setting document of (function, qualifier), or None."""

    async def put_function_setting(
        self, name: str, qualifier: str, kind: str, config: dict[str, Any]
    ) -> None:
        """Store (replace) one setting document of (function, qualifier)."""


class ProvisionedStore(Protocol):
    """Provisioned concurrency configurations, one per (function, version or alias).

    A function's rows are removed with the function, an alias's with the alias, a version's
    with the version.
    """

    async def put_provisioned(self, config: ProvisionedConfig) -> None:
        """Store (replace) the configuration of (function, qualifier)."""

    async def get_provisioned(self, name: str, qualifier: str) -> ProvisionedConfig | None:
        """The configuration of (function, qualifier), or None."""

    async def list_provisioned(self, name: str | None = None) -> list[ProvisionedConfig]:
        """The function's configurations by qualifier; every function's when ``name`` is None."""

    async def delete_provisioned(self, name: str, qualifier: str) -> bool:
        """Remove a configuration; False if there was none."""
