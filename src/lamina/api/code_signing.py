"""Routes of code signing: the configurations (under ``/2020-04-22/code-signing-configs``) and a
function's configuration (under ``/2020-06-30/functions/{name}/code-signing-config``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lamina import arns
from lamina.api.http import Request, Response, empty_response, json_response
from lamina.errors import ValidationException

if TYPE_CHECKING:
    from lamina.api.app import Services

MAX_BODY_BYTES = 1 << 20


async def create_code_signing_config(services: Services, request: Request) -> Response:
    body = await request.json(MAX_BODY_BYTES)
    config = await services.code_signing.create(body)
    return json_response({"CodeSigningConfig": config}, status=201)


async def get_code_signing_config(services: Services, request: Request, arn: str) -> Response:
    return json_response({"CodeSigningConfig": await services.code_signing.get(arn)})


async def update_code_signing_config(services: Services, request: Request, arn: str) -> Response:
    body = await request.json(MAX_BODY_BYTES)
    return json_response({"CodeSigningConfig": await services.code_signing.update(arn, body)})


async def delete_code_signing_config(services: Services, request: Request, arn: str) -> Response:
    await services.code_signing.delete(arn)
    return empty_response(204)


async def list_code_signing_configs(services: Services, request: Request) -> Response:
    configs, next_marker = await services.code_signing.list_configs(
        request.query("Marker"), max_items(request)
    )
    doc: dict[str, object] = {"CodeSigningConfigs": configs}
    if next_marker:
        doc["NextMarker"] = next_marker
    return json_response(doc)


async def list_functions_by_code_signing_config(
    services: Services, request: Request, arn: str
) -> Response:
    functions, next_marker = await services.code_signing.functions(
        arn, request.query("Marker"), max_items(request)
    )
    doc: dict[str, object] = {"FunctionArns": functions}
    if next_marker:
        doc["NextMarker"] = next_marker
    return json_response(doc)


async def put_function_code_signing_config(
    services: Services, request: Request, name: str
) -> Response:
    body = await request.json(MAX_BODY_BYTES)
    return json_response(await services.code_signing.put_function(name, body))


async def get_function_code_signing_config(
    services: Services, request: Request, name: str
) -> Response:
    return json_response(await services.code_signing.get_function(name))


async def delete_function_code_signing_config(
    services: Services, request: Request, name: str
) -> Response:
    await services.code_signing.delete_function(name)
    return empty_response(204)


def max_items(request: Request) -> int | None:
    """The ``MaxItems`` query parameter; one that is not an integer is AWS's 400."""
    value = request.query("MaxItems")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationException(
            arns.validation_message(value, "maxItems", "Member must be an integer")
        ) from None
