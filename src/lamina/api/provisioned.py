"""Routes of provisioned concurrency: Put/Get/Delete/ListProvisionedConcurrencyConfig(s).

Get and List share one path; botocore sends ``List=ALL`` for the listing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lamina.api.http import Request, Response, empty_response, json_response

if TYPE_CHECKING:
    from lamina.api.app import Services

MAX_REQUEST_BYTES = 1 << 20


async def put_provisioned_concurrency_config(
    services: Services, request: Request, name: str
) -> Response:
    body = await request.json(MAX_REQUEST_BYTES)
    doc = await services.provisioned.put(name, request.query("Qualifier"), body)
    return json_response(doc, status=202)


async def get_or_list_provisioned_concurrency_configs(
    services: Services, request: Request, name: str
) -> Response:
    if request.query("List") == "ALL":
        doc = await services.provisioned.list(
            name, request.query("Marker"), request.query("MaxItems")
        )
        return json_response(doc)
    return json_response(await services.provisioned.get(name, request.query("Qualifier")))


async def delete_provisioned_concurrency_config(
    services: Services, request: Request, name: str
) -> Response:
    await services.provisioned.delete(name, request.query("Qualifier"))
    return empty_response(204)
