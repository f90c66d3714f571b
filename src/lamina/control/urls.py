"""Function URL configurations: Create/Get/Update/Delete/ListFunctionUrlConfig(s).

A function URL is a dedicated HTTP endpoint of a function (unqualified) or of one of its
aliases; $LATEST and version numbers cannot have one (AWS's ValidationException). Its url_id,
32 lower-case letters and digits, is drawn once and stored, so the URL is the same after a
restart. Deleting the function or the alias deletes the URL (the store does it).

On AWS the URL is ``https://<url-id>.lambda-url.<region>.on.aws/``; lamina answers at
``http://<url-id>.lambda-url.<region>.localhost:<port>/`` (and at the path form, see
api/function_urls.py).
"""

from __future__ import annotations

import datetime
import secrets
import string
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from lamina import arns
from lamina.control import url_settings
from lamina.control.functions import FunctionRegistry
from lamina.errors import ResourceConflictException, ResourceNotFoundException, ValidationException
from lamina.model import LATEST, FunctionUrlConfig
from lamina.store import DuplicateError, Store

URL_ID_ALPHABET = string.ascii_lowercase + string.digits
URL_ID_LENGTH = 32
MAX_LIST_ITEMS = 50
NO_FUNCTION = "Function does not exist"
NOT_FOUND = "The resource you requested does not exist."
_ALIAS_PATTERN = r"((?!^\d+$)^[0-9a-zA-Z-_]+$)"
_NOT_VERSION_PATTERN = r"(^\$LATEST$)|((?!^[0-9]+$)([a-zA-Z0-9-_]+))"


class FunctionUrlControl:
    def __init__(self, registry: FunctionRegistry, store: Store, port: int) -> None:
        self.registry = registry
        self.store = store
        self.port = port

    def url(self, url_id: str) -> str:
        """The URL clients reach (a ``*.localhost`` name: loopback by RFC 6761)."""
        return f"http://{url_id}.lambda-url.{self.registry.region}.localhost:{self.port}/"

    async def create(
        self, name_param: str, qualifier: str | None, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        name, qualifier = self._target(name_param, qualifier)
        auth_type = url_settings.auth_type(body.get("AuthType"))
        mode = body.get("InvokeMode")
        invoke_mode = url_settings.invoke_mode(mode) if mode is not None else "BUFFERED"
        cors = url_settings.cors(body.get("Cors"))
        await self._existing(name, qualifier, NO_FUNCTION)
        now = _now()
        url = FunctionUrlConfig(
            url_id=new_url_id(),
            function_name=name,
            qualifier=qualifier or "",
            auth_type=auth_type,
            creation_time=now,
            last_modified_time=now,
            cors=cors,
            invoke_mode=invoke_mode,
        )
        try:
            await self.store.insert_function_url(url)
        except DuplicateError as exc:
            raise ResourceConflictException(
                "Failed to create function url config for [functionArn = "
                f"{self.registry.arn(name, qualifier)}]. Error message:  FunctionUrlConfig "
                "exists for this Lambda function"
            ) from exc
        doc = self.render(url)
        del doc["LastModifiedTime"]
        if mode is None:
            del doc["InvokeMode"]
        return doc

    async def get(self, name_param: str, qualifier: str | None) -> dict[str, Any]:
        name, qualifier = self._target(name_param, qualifier)
        return self.render(await self._url(name, qualifier))

    async def update(
        self, name_param: str, qualifier: str | None, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        name, qualifier = self._target(name_param, qualifier)
        changes: dict[str, Any] = {}
        if body.get("AuthType") is not None:
            changes["auth_type"] = url_settings.auth_type(body["AuthType"])
        if body.get("InvokeMode") is not None:
            changes["invoke_mode"] = url_settings.invoke_mode(body["InvokeMode"])
        if body.get("Cors") is not None:
            changes["cors"] = url_settings.cors(body["Cors"])
        await self._existing(name, qualifier, NO_FUNCTION)
        url = await self._url(name, qualifier)
        updated = replace(url, **changes, last_modified_time=_now())
        await self.store.replace_function_url(updated)
        return self.render(updated)

    async def delete(self, name_param: str, qualifier: str | None) -> None:
        name, qualifier = self._target(name_param, qualifier)
        await self._existing(name, None, NOT_FOUND)
        if not await self.store.delete_function_url(name, qualifier or ""):
            raise ResourceNotFoundException(NOT_FOUND)

    async def list(
        self, name_param: str, marker: str | None, max_items: int | None
    ) -> dict[str, Any]:
        name, _ = self.registry.reference(name_param, None, max_length=140)
        if max_items is not None and not 1 <= max_items <= MAX_LIST_ITEMS:
            bound = "greater than or equal to 1" if max_items < 1 else "less than or equal to 50"
            raise ValidationException(
                arns.validation_message(
                    str(max_items), "maxItems", f"Member must have value {bound}"
                )
            )
        await self._existing(name, None, NO_FUNCTION)
        urls = await self.store.list_function_urls(name)
        start = int(marker) if marker and marker.isdigit() else 0
        limit = max_items or MAX_LIST_ITEMS
        doc: dict[str, Any] = {
            "FunctionUrlConfigs": [self.render(u) for u in urls[start : start + limit]]
        }
        if start + limit < len(urls):
            doc["NextMarker"] = str(start + limit)
        return doc

    async def by_id(self, url_id: str) -> FunctionUrlConfig | None:
        """The URL a request names by its url_id, or None."""
        return await self.store.function_url_by_id(url_id)

    def render(self, url: FunctionUrlConfig) -> dict[str, Any]:
        """FunctionUrlConfig in the model's shape (Cors only when it was set)."""
        doc: dict[str, Any] = {
            "FunctionUrl": self.url(url.url_id),
            "FunctionArn": self.registry.arn(url.function_name, url.qualifier or None),
            "AuthType": url.auth_type,
        }
        if url.cors:
            doc["Cors"] = dict(url.cors)
        doc["CreationTime"] = url.creation_time
        doc["LastModifiedTime"] = url.last_modified_time
        doc["InvokeMode"] = url.invoke_mode
        return doc

    def _target(self, name_param: str, qualifier: str | None) -> tuple[str, str | None]:
        """(name, alias or None); a qualifier that is $LATEST or a version is refused first."""
        name, qualifier = self.registry.reference(name_param, qualifier or None, max_length=140)
        if qualifier == LATEST:
            raise ValidationException(
                arns.validation_message(
                    qualifier,
                    "qualifier",
                    f"Member must satisfy regular expression pattern: {_ALIAS_PATTERN}",
                )
            )
        if qualifier is not None and qualifier.isdigit():
            raise ValidationException(
                arns.validation_message(
                    qualifier,
                    "qualifier",
                    f"Member must satisfy regular expression pattern: {_NOT_VERSION_PATTERN}",
                )
            )
        return name, qualifier

    async def _existing(self, name: str, alias: str | None, message: str) -> None:
        if await self.store.get_function(name) is None:
            raise ResourceNotFoundException(message)
        if alias is not None and await self.store.get_alias(name, alias) is None:
            raise ResourceNotFoundException(message)

    async def _url(self, name: str, qualifier: str | None) -> FunctionUrlConfig:
        url = await self.store.get_function_url(name, qualifier or "")
        if url is None:
            raise ResourceNotFoundException(NOT_FOUND)
        return url


def new_url_id() -> str:
    return "".join(secrets.choice(URL_ID_ALPHABET) for _ in range(URL_ID_LENGTH))


def _now() -> str:
    """ISO-8601 with microseconds, as AWS writes CreationTime: ``2024-03-27T09:14:35.123456Z``."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
