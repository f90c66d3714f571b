"""Routes of resource-based policies: AddPermission, RemovePermission, GetPolicy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lamina.api.http import Request, Response, empty_response, json_response

if TYPE_CHECKING:
    from lamina.api.app import Services


async def add_permission(services: Services, request: Request, name: str) -> Response:
    body = await request.json(1 << 20)
    statement = await services.permissions.add(name, request.query("Qualifier"), body)
    return json_response(statement, status=201)


async def remove_permission(services: Services, request: Request, name: str, sid: str) -> Response:
    await services.permissions.remove(
        name, sid, request.query("Qualifier"), request.query("RevisionId")
    )
    return empty_response(204)


async def get_policy(services: Services, request: Request, name: str) -> Response:
    return json_response(await services.permissions.get(name, request.query("Qualifier")))
