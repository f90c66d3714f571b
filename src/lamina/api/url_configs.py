"""Routes of function URL configurations: Create/Get/Update/Delete/ListFunctionUrlConfig(s)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lamina.api.http import Request, Response, empty_response, json_response
from lamina.arns import validation_message
from lamina.errors import ValidationException

if TYPE_CHECKING:
    from lamina.api.app import Services

MAX_REQUEST_BYTES = 1 << 20


async def create_function_url_config(services: Services, request: Request, name: str) -> Response:
    body = await request.json(MAX_REQUEST_BYTES)
    doc = await services.urls.create(name, request.query("Qualifier"), body)
    return json_response(doc, status=201)


async def get_function_url_config(services: Services, request: Request, name: str) -> Response:
    return json_response(await services.urls.get(name, request.query("Qualifier")))


async def update_function_url_config(services: Services, request: Request, name: str) -> Response:
    body = await request.json(MAX_REQUEST_BYTES)
    return json_response(await services.urls.update(name, request.query("Qualifier"), body))


async def delete_function_url_config(services: Services, request: Request, name: str) -> Response:
    await services.urls.delete(name, request.query("Qualifier"))
    return empty_response(204)


async def list_function_url_configs(services: Services, request: Request, name: str) -> Response:
    doc = await services.urls.list(
        name, request.query("Marker"), _max_items(request.query("MaxItems"))
    )
    return json_response(doc)


def _max_items(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationException(
            validation_message(value, "maxItems", "Member must be an integer")
        ) from None
