"""Routes of tags: TagResource, UntagResource, ListTags (the ARN is the path's last part)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lamina.api.http import Request, Response, empty_response, json_response

if TYPE_CHECKING:
    from lamina.api.app import Services


async def tag_resource(services: Services, request: Request, arn: str) -> Response:
    body = await request.json(1 << 20)
    await services.tags.tag(arn, body.get("Tags"))
    return empty_response(204)


async def untag_resource(services: Services, request: Request, arn: str) -> Response:
    await services.tags.untag(arn, request.query_all("tagKeys"))
    return empty_response(204)


async def list_tags(services: Services, request: Request, arn: str) -> Response:
    return json_response({"Tags": dict(await services.tags.list(arn))})
