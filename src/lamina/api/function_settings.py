"""Routes of a function's runtime management (``/2021-07-20``) and recursion (``/2024-08-31``)
settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lamina.api.http import Request, Response, json_response

if TYPE_CHECKING:
    from lamina.api.app import Services

MAX_BODY_BYTES = 1 << 20


async def get_runtime_management_config(
    services: Services, request: Request, name: str
) -> Response:
    config = await services.function_settings.get_runtime_management(
        name, request.query("Qualifier")
    )
    return json_response(config)


async def put_runtime_management_config(
    services: Services, request: Request, name: str
) -> Response:
    body = await request.json(MAX_BODY_BYTES)
    config = await services.function_settings.put_runtime_management(
        name, request.query("Qualifier"), body
    )
    return json_response(config)


async def get_function_recursion_config(
    services: Services, request: Request, name: str
) -> Response:
    return json_response(await services.function_settings.get_recursion(name))


async def put_function_recursion_config(
    services: Services, request: Request, name: str
) -> Response:
    body = await request.json(MAX_BODY_BYTES)
    return json_response(await services.function_settings.put_recursion(name, body))
