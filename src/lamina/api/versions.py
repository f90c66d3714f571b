"""Routes of versions and aliases: PublishVersion, ListVersionsByFunction, the alias family."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lamina.api import shapes
from lamina.api.http import Request, Response, empty_response, json_response

if TYPE_CHECKING:
    from lamina.api.app import Services

MAX_REQUEST_BYTES = 1 << 20


async def publish_version(services: Services, request: Request, name: str) -> Response:
    body = await request.json(MAX_REQUEST_BYTES)
    view = await services.versions.publish(name, body)
    return json_response(shapes.function_configuration(view, services.region), status=201)


async def list_versions(services: Services, request: Request, name: str) -> Response:
    views, next_marker = await services.versions.list(
        name, request.query("Marker"), _int(request.query("MaxItems"))
    )
    doc: dict[str, object] = {
        "Versions": [shapes.function_configuration(v, services.region, listing=True) for v in views]
    }
    if next_marker:
        doc["NextMarker"] = next_marker
    return json_response(doc)


async def create_alias(services: Services, request: Request, name: str) -> Response:
    body = await request.json(MAX_REQUEST_BYTES)
    return json_response(await services.aliases.create(name, body), status=201)


async def get_alias(services: Services, request: Request, name: str, alias: str) -> Response:
    return json_response(await services.aliases.get(name, alias))


async def update_alias(services: Services, request: Request, name: str, alias: str) -> Response:
    body = await request.json(MAX_REQUEST_BYTES)
    return json_response(await services.aliases.update(name, alias, body))


async def delete_alias(services: Services, request: Request, name: str, alias: str) -> Response:
    await services.aliases.delete(name, alias)
    return empty_response(204)


async def list_aliases(services: Services, request: Request, name: str) -> Response:
    doc = await services.aliases.list(
        name,
        request.query("FunctionVersion"),
        request.query("Marker"),
        _int(request.query("MaxItems")),
    )
    return json_response(doc)


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None
