"""Routes of the function resource family: CreateFunction … GetAccountSettings."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from lamina.api import shapes
from lamina.api.http import Request, Response, empty_response, json_response
from lamina.control import FunctionView
from lamina.errors import AccessDeniedException, RequestEntityTooLargeException, ValidationException

if TYPE_CHECKING:
    from lamina.api.app import Services

MAX_CREATE_REQUEST_BYTES = 70_167_211
MAX_UPDATE_CODE_REQUEST_BYTES = 70_167_211
MAX_CONFIG_REQUEST_BYTES = 1 << 20


def too_large_for(method: str, path: str) -> Callable[[int], Exception] | None:
    """The 413 AWS sends when a request to this route is over the largest size of all."""
    if method == "POST" and path.rstrip("/") == "/2015-03-31/functions":
        return _create_too_large
    if method == "PUT" and path.endswith("/code"):
        return _code_too_large
    return None


def _create_too_large(size: int) -> Exception:
    return RequestEntityTooLargeException(
        f"Request must be smaller than {MAX_CREATE_REQUEST_BYTES} bytes for the "
        "CreateFunction operation"
    )


def _code_too_large(size: int) -> Exception:
    return RequestEntityTooLargeException(
        f"Request must be smaller than {MAX_UPDATE_CODE_REQUEST_BYTES} bytes for the "
        "UpdateFunctionCode operation"
    )


async def create_function(services: Services, request: Request) -> Response:
    body = await request.json(MAX_CREATE_REQUEST_BYTES, _create_too_large)
    code_signing = await services.code_signing.checked_for_create(body.get("CodeSigningConfigArn"))
    view = await services.registry.create(body)
    if code_signing is not None:
        await services.code_signing.attach(view.config.name, code_signing)
    if body.get("Publish"):
        # AWS answers with version 1's configuration under the unqualified ARN.
        published = await services.versions.publish_from(view.config, None)
        view = FunctionView(published.config, view.arn, view.tags)
    return json_response(shapes.function_configuration(view, services.region), status=201)


async def get_function(services: Services, request: Request, name: str) -> Response:
    view = await services.registry.get(name, request.query("Qualifier"))
    doc = {
        "Configuration": shapes.function_configuration(view, services.region),
        "Code": {
            "RepositoryType": "S3",
            "Location": services.signer.url(request.host, view.config.code_sha256),
        },
    }
    if view.tags:
        doc["Tags"] = dict(view.tags)
    if view.config.reserved_concurrency is not None:
        doc["Concurrency"] = {"ReservedConcurrentExecutions": view.config.reserved_concurrency}
    return json_response(doc)


async def get_function_configuration(services: Services, request: Request, name: str) -> Response:
    view = await services.registry.get(name, request.query("Qualifier"))
    return json_response(shapes.function_configuration(view, services.region))


async def list_functions(services: Services, request: Request) -> Response:
    max_items = request.query("MaxItems")
    if max_items is not None and not max_items.lstrip("-").isdigit():
        raise ValidationException(f"MaxItems must be an integer, not {max_items!r}")
    views, next_marker = await services.registry.list(
        request.query("Marker"),
        int(max_items) if max_items is not None else None,
        request.query("FunctionVersion"),
    )
    doc: dict[str, object] = {
        "Functions": [
            shapes.function_configuration(v, services.region, listing=True) for v in views
        ]
    }
    if next_marker:
        doc["NextMarker"] = next_marker
    return json_response(doc)


async def update_function_code(services: Services, request: Request, name: str) -> Response:
    body = await request.json(MAX_UPDATE_CODE_REQUEST_BYTES, _code_too_large)
    view = await services.registry.update_code(name, body)
    if body.get("Publish") and not body.get("DryRun"):
        view = await services.versions.publish_from(view.config, None)
    return json_response(shapes.function_configuration(view, services.region))


async def update_function_configuration(
    services: Services, request: Request, name: str
) -> Response:
    body = await request.json(MAX_CONFIG_REQUEST_BYTES)
    view = await services.registry.update_configuration(name, body)
    return json_response(shapes.function_configuration(view, services.region))


async def delete_function(services: Services, request: Request, name: str) -> Response:
    await services.registry.delete(name, request.query("Qualifier"))
    return empty_response(204)


async def put_function_concurrency(services: Services, request: Request, name: str) -> Response:
    body = await request.json(MAX_CONFIG_REQUEST_BYTES)
    return json_response(await services.concurrency.put(name, body))


async def get_function_concurrency(services: Services, request: Request, name: str) -> Response:
    return json_response(await services.concurrency.get(name))


async def delete_function_concurrency(services: Services, request: Request, name: str) -> Response:
    await services.concurrency.delete(name)
    return empty_response(204)


async def put_event_invoke_config(services: Services, request: Request, name: str) -> Response:
    body = await request.json(MAX_CONFIG_REQUEST_BYTES)
    return json_response(await services.async_configs.put(name, request.query("Qualifier"), body))


async def update_event_invoke_config(services: Services, request: Request, name: str) -> Response:
    body = await request.json(MAX_CONFIG_REQUEST_BYTES)
    qualifier = request.query("Qualifier")
    return json_response(await services.async_configs.update(name, qualifier, body))


async def get_event_invoke_config(services: Services, request: Request, name: str) -> Response:
    return json_response(await services.async_configs.get(name, request.query("Qualifier")))


async def delete_event_invoke_config(services: Services, request: Request, name: str) -> Response:
    await services.async_configs.delete(name, request.query("Qualifier"))
    return empty_response(204)


async def list_event_invoke_configs(services: Services, request: Request, name: str) -> Response:
    max_items = request.query("MaxItems")
    limit = int(max_items) if max_items and max_items.isdigit() else None
    return json_response(await services.async_configs.list(name, request.query("Marker"), limit))


async def get_account_settings(services: Services, request: Request) -> Response:
    return json_response(await services.registry.account_settings())


async def download_code(services: Services, request: Request, file: str) -> Response:
    sha = file.removesuffix(".zip")
    valid = len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)
    if not valid or not services.signer.verify(
        sha, request.query("Expires"), request.query("Signature")
    ):
        raise AccessDeniedException("Request has expired or its signature does not match.")
    path = services.registry.code_path(sha)
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError as exc:
        raise AccessDeniedException("The package no longer exists.") from exc
    disposition = {"content-disposition": f'attachment; filename="{sha}.zip"'}
    return Response(200, data, disposition, content_type="application/zip")
