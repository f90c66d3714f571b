"""Routes of tags: TagResource, UntagResource, ListTags (the ARN is the path's last part).

A function's ARN goes to the function's tags, a code signing configuration's to its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lamina.api.http import Request, Response, empty_response, json_response

if TYPE_CHECKING:
    from lamina.api.app import Services


_CODE_SIGNING_CONFIG = ":code-signing-config:"


async def tag_resource(services: Services, request: Request, arn: str) -> Response:
    body = await request.json(1 << 20)
    if _CODE_SIGNING_CONFIG in arn:
        await services.code_signing.tag(arn, body.get("Tags"))
    else:
        await services.tags.tag(arn, body.get("Tags"))
    return empty_response(204)


async def untag_resource(services: Services, request: Request, arn: str) -> Response:
    if _CODE_SIGNING_CONFIG in arn:
        await services.code_signing.untag(arn, request.query_all("tagKeys"))
    else:
        await services.tags.untag(arn, request.query_all("tagKeys"))
    return empty_response(204)


async def list_tags(services: Services, request: Request, arn: str) -> Response:
    if _CODE_SIGNING_CONFIG in arn:
        return json_response({"Tags": await services.code_signing.list_tags(arn)})
    return json_response({"Tags": dict(await services.tags.list(arn))})
