"""Routes of layers: publish, get (by name and number, or by ARN), list, delete, permissions."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from lamina.api.http import Request, Response, empty_response, json_response
from lamina.api.shapes import last_modified
from lamina.model import LayerVersion

if TYPE_CHECKING:
    from lamina.api.app import Services

MAX_PUBLISH_BYTES = 70_167_211
_LIST_FILTERS = ("CompatibleRuntime", "CompatibleArchitecture", "Marker", "MaxItems")


async def publish_layer_version(services: Services, request: Request, layer: str) -> Response:
    body = await request.json(MAX_PUBLISH_BYTES)
    version = await services.layers.publish(layer, body)
    return json_response(_layer_version(services, request, version), status=201)


async def get_layer_version(
    services: Services, request: Request, layer: str, number: str
) -> Response:
    version = await services.layers.get(layer, number)
    return json_response(_layer_version(services, request, version))


async def list_or_find_layers(services: Services, request: Request) -> Response:
    """``GET /layers`` is ListLayers, or GetLayerVersionByArn with ``find=LayerVersion``."""
    if request.query("find") == "LayerVersion":
        version = await services.layers.get_by_arn(request.query("Arn"))
        return json_response(_layer_version(services, request, version))
    latest, next_marker = await services.layers.list_layers(_filters(request))
    doc: dict[str, Any] = {
        "Layers": [
            {
                "LayerName": v.layer_name,
                "LayerArn": services.layers.arn(v.layer_name),
                "LatestMatchingVersion": _list_item(services, v),
            }
            for v in latest
        ]
    }
    if next_marker:
        doc["NextMarker"] = next_marker
    return json_response(doc)


async def list_layer_versions(services: Services, request: Request, layer: str) -> Response:
    versions, next_marker = await services.layers.list_versions(layer, _filters(request))
    doc: dict[str, Any] = {"LayerVersions": [_list_item(services, v) for v in versions]}
    if next_marker:
        doc["NextMarker"] = next_marker
    return json_response(doc)


async def delete_layer_version(
    services: Services, request: Request, layer: str, number: str
) -> Response:
    await services.layers.delete(layer, number)
    return empty_response(204)


async def add_layer_version_permission(
    services: Services, request: Request, layer: str, number: str
) -> Response:
    body = await request.json(1 << 20)
    revision_id = request.query("RevisionId")  # a query parameter in this operation
    statement = await services.layers.add_permission(layer, number, body, revision_id)
    return json_response(statement, status=201)


async def get_layer_version_policy(
    services: Services, request: Request, layer: str, number: str
) -> Response:
    return json_response(await services.layers.get_policy(layer, number))


async def remove_layer_version_permission(
    services: Services, request: Request, layer: str, number: str, sid: str
) -> Response:
    await services.layers.remove_permission(layer, number, sid, request.query("RevisionId"))
    return empty_response(204)


def _filters(request: Request) -> dict[str, str | None]:
    return {name: request.query(name) for name in _LIST_FILTERS}


def _list_item(services: Services, version: LayerVersion) -> dict[str, Any]:
    """LayerVersionsListItem: a version without its content."""
    doc: dict[str, Any] = {
        "LayerVersionArn": services.layers.version_arn(version),
        "Version": version.version,
        "Description": version.description,
        "CreatedDate": last_modified(version.created_ms),
    }
    if version.compatible_runtimes:
        doc["CompatibleRuntimes"] = list(version.compatible_runtimes)
    if version.license_info is not None:
        doc["LicenseInfo"] = version.license_info
    if version.compatible_architectures:
        doc["CompatibleArchitectures"] = list(version.compatible_architectures)
    return doc


def _layer_version(services: Services, request: Request, version: LayerVersion) -> dict[str, Any]:
    """Publish/GetLayerVersion's response: the version with its content and layer ARN."""
    return {
        "Content": {
            "Location": services.signer.url(request.host, version.code_sha256),
            "CodeSha256": base64.b64encode(bytes.fromhex(version.code_sha256)).decode(),
            "CodeSize": version.code_size,
        },
        "LayerArn": services.layers.arn(version.layer_name),
        **_list_item(services, version),
    }
