"""The ASGI application: the whole route table in one place, errors rendered once.

Routes are matched on the decoded path; path parameters (a function name may be an ARN with
colons) are single segments. Anything unexpected inside a handler becomes a ServiceException
for the client and a logged traceback for the operator; it never takes the server down.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lamina.api import (
    code_signing,
    function_settings,
    function_urls,
    functions,
    invocations,
    layers,
    logs,
    permissions,
    provisioned,
    response_streams,
    sigv4,
    tags,
    unimplemented,
    url_configs,
    versions,
)
from lamina.api.code_urls import PATH_PREFIX, CodeUrlSigner
from lamina.api.errors import json_rpc_error, rest_error
from lamina.api.http import Receive, Request, Response, Scope, Send, json_response
from lamina.api.sigv4 import Credential
from lamina.control import (
    AliasControl,
    CodeSigningControl,
    ConcurrencyControl,
    EventInvokeConfigs,
    FunctionRegistry,
    FunctionSettings,
    FunctionUrlControl,
    LayerControl,
    PermissionControl,
    ProvisionedConcurrencyControl,
    TagControl,
    VersionControl,
)
from lamina.errors import (
    AccessDeniedException,
    LaminaError,
    NotImplementedException,
    ServiceException,
    UnknownOperationException,
)
from lamina.invoke import Invoker
from lamina.telemetry import LogStore

log = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[Response]]


@dataclass
class Services:
    """Everything the edge calls into, built by the composition root (server.py)."""

    registry: FunctionRegistry
    concurrency: ConcurrencyControl
    async_configs: EventInvokeConfigs
    versions: VersionControl
    aliases: AliasControl
    tags: TagControl
    permissions: PermissionControl
    layers: LayerControl
    code_signing: CodeSigningControl
    function_settings: FunctionSettings
    urls: FunctionUrlControl
    provisioned: ProvisionedConcurrencyControl
    credentials: Mapping[str, Credential] | None
    """Accepted access keys; None when authentication is off (``--auth none``)."""
    invoker: Invoker
    logs: LogStore
    signer: CodeUrlSigner
    region: str
    account: str


_OWN_PREFIX = "/_lamina/"
MAX_SIGNED_BODY_BYTES = 70_167_211
"""The largest request of the API (CreateFunction); routes check their own limit after."""
_INVOCATION = re.compile(
    r"/2015-03-31/functions/[^/]+/invocations/?|/2014-11-13/functions/[^/]+/invoke-async/?"
    r"|/2021-11-15/functions/[^/]+/response-streaming-invocations/?"
)
_NAME = r"(?P<name>[^/]+)"
_ALIAS = r"(?P<alias>[^/]+)"
_EIC = rf"/2019-09-25/functions/{_NAME}/event-invoke-config"
_LAYER = r"/2018-10-31/layers/(?P<layer>[^/]+)/versions"
_LAYER_VERSION = rf"{_LAYER}/(?P<number>[^/]+)"
_CSC = r"/2020-04-22/code-signing-configs"
_CSC_ARN = rf"{_CSC}/(?P<arn>[^/]+)"
_FUNCTION_CSC = rf"/2020-06-30/functions/{_NAME}/code-signing-config/?"
_RUNTIME = rf"/2021-07-20/functions/{_NAME}/runtime-management-config/?"
_RECURSION = rf"/2024-08-31/functions/{_NAME}/recursion-config/?"
_URL = rf"/2021-10-31/functions/{_NAME}/url"
_PROVISIONED = rf"/2019-09-30/functions/{_NAME}/provisioned-concurrency/?"
_ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", rf"/2015-03-31/functions/{_NAME}/invocations/?", invocations.invoke),
    ("POST", rf"/2014-11-13/functions/{_NAME}/invoke-async/?", invocations.invoke_async),
    (
        "POST",
        rf"/2021-11-15/functions/{_NAME}/response-streaming-invocations/?",
        response_streams.invoke_with_response_stream,
    ),
    ("POST", r"/2015-03-31/functions/?", functions.create_function),
    ("GET", r"/2015-03-31/functions/?", functions.list_functions),
    ("GET", rf"/2015-03-31/functions/{_NAME}/?", functions.get_function),
    ("DELETE", rf"/2015-03-31/functions/{_NAME}/?", functions.delete_function),
    (
        "GET",
        rf"/2015-03-31/functions/{_NAME}/configuration/?",
        functions.get_function_configuration,
    ),
    (
        "PUT",
        rf"/2015-03-31/functions/{_NAME}/configuration/?",
        functions.update_function_configuration,
    ),
    ("PUT", rf"/2015-03-31/functions/{_NAME}/code/?", functions.update_function_code),
    ("GET", r"/2016-08-19/account-settings/?", functions.get_account_settings),
    ("POST", rf"/2015-03-31/functions/{_NAME}/policy/?", permissions.add_permission),
    ("GET", rf"/2015-03-31/functions/{_NAME}/policy/?", permissions.get_policy),
    (
        "DELETE",
        rf"/2015-03-31/functions/{_NAME}/policy/(?P<sid>[^/]+)",
        permissions.remove_permission,
    ),
    ("POST", r"/2017-03-31/tags/(?P<arn>.+)", tags.tag_resource),
    ("DELETE", r"/2017-03-31/tags/(?P<arn>.+)", tags.untag_resource),
    ("GET", r"/2017-03-31/tags/(?P<arn>.+)", tags.list_tags),
    ("POST", rf"/2015-03-31/functions/{_NAME}/versions/?", versions.publish_version),
    ("GET", rf"/2015-03-31/functions/{_NAME}/versions/?", versions.list_versions),
    ("POST", rf"/2015-03-31/functions/{_NAME}/aliases/?", versions.create_alias),
    ("GET", rf"/2015-03-31/functions/{_NAME}/aliases/?", versions.list_aliases),
    ("GET", rf"/2015-03-31/functions/{_NAME}/aliases/{_ALIAS}/?", versions.get_alias),
    ("PUT", rf"/2015-03-31/functions/{_NAME}/aliases/{_ALIAS}/?", versions.update_alias),
    ("DELETE", rf"/2015-03-31/functions/{_NAME}/aliases/{_ALIAS}/?", versions.delete_alias),
    ("PUT", rf"/2017-10-31/functions/{_NAME}/concurrency/?", functions.put_function_concurrency),
    ("GET", rf"{_EIC}/list/?", functions.list_event_invoke_configs),
    ("PUT", rf"{_EIC}/?", functions.put_event_invoke_config),
    ("POST", rf"{_EIC}/?", functions.update_event_invoke_config),
    ("GET", rf"{_EIC}/?", functions.get_event_invoke_config),
    ("DELETE", rf"{_EIC}/?", functions.delete_event_invoke_config),
    ("GET", rf"/2019-09-30/functions/{_NAME}/concurrency/?", functions.get_function_concurrency),
    (
        "DELETE",
        rf"/2017-10-31/functions/{_NAME}/concurrency/?",
        functions.delete_function_concurrency,
    ),
    ("GET", r"/2018-10-31/layers/?", layers.list_or_find_layers),
    ("POST", rf"{_LAYER}/?", layers.publish_layer_version),
    ("GET", rf"{_LAYER}/?", layers.list_layer_versions),
    ("GET", rf"{_LAYER_VERSION}/?", layers.get_layer_version),
    ("DELETE", rf"{_LAYER_VERSION}/?", layers.delete_layer_version),
    ("POST", rf"{_LAYER_VERSION}/policy/?", layers.add_layer_version_permission),
    ("GET", rf"{_LAYER_VERSION}/policy/?", layers.get_layer_version_policy),
    (
        "DELETE",
        rf"{_LAYER_VERSION}/policy/(?P<sid>[^/]+)",
        layers.remove_layer_version_permission,
    ),
    ("POST", rf"{_CSC}/?", code_signing.create_code_signing_config),
    ("GET", rf"{_CSC}/?", code_signing.list_code_signing_configs),
    ("GET", rf"{_CSC_ARN}/functions/?", code_signing.list_functions_by_code_signing_config),
    ("GET", rf"{_CSC_ARN}/?", code_signing.get_code_signing_config),
    ("PUT", rf"{_CSC_ARN}/?", code_signing.update_code_signing_config),
    ("DELETE", rf"{_CSC_ARN}/?", code_signing.delete_code_signing_config),
    ("PUT", _FUNCTION_CSC, code_signing.put_function_code_signing_config),
    ("GET", _FUNCTION_CSC, code_signing.get_function_code_signing_config),
    ("DELETE", _FUNCTION_CSC, code_signing.delete_function_code_signing_config),
    ("GET", _RUNTIME, function_settings.get_runtime_management_config),
    ("PUT", _RUNTIME, function_settings.put_runtime_management_config),
    ("GET", _RECURSION, function_settings.get_function_recursion_config),
    ("PUT", _RECURSION, function_settings.put_function_recursion_config),
    ("POST", rf"{_URL}/?", url_configs.create_function_url_config),
    ("GET", rf"{_URL}/?", url_configs.get_function_url_config),
    ("PUT", rf"{_URL}/?", url_configs.update_function_url_config),
    ("DELETE", rf"{_URL}/?", url_configs.delete_function_url_config),
    ("GET", rf"{_URL}s/?", url_configs.list_function_url_configs),
    ("PUT", _PROVISIONED, provisioned.put_provisioned_concurrency_config),
    ("GET", _PROVISIONED, provisioned.get_or_list_provisioned_concurrency_configs),
    ("DELETE", _PROVISIONED, provisioned.delete_provisioned_concurrency_config),
    ("GET", rf"{PATH_PREFIX}(?P<file>[0-9a-f]{{64}}\.zip)", functions.download_code),
]


class Router:
    def __init__(self, routes: list[tuple[str, str, Handler]]) -> None:
        self._routes = [
            (method, re.compile(pattern), handler) for method, pattern, handler in routes
        ]

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        for route_method, pattern, handler in self._routes:
            if route_method == method:
                found = pattern.fullmatch(path)
                if found:
                    return handler, found.groupdict()
        operation = unimplemented.operation_for(method, path)
        if operation is not None:
            raise NotImplementedException(
                f"lamina does not implement the {operation} operation yet."
            )
        raise UnknownOperationException(f"No operation of the Lambda API matches {method} {path}")


class LaminaApp:
    def __init__(
        self,
        services: Services,
        on_startup: Callable[[], Awaitable[None]] | None = None,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.services = services
        self.router = Router(_ROUTES)
        self._on_startup = on_startup
        self._on_shutdown = on_shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, str(uuid.uuid4()))
        is_logs_api = request.headers.get("x-amz-target", "").startswith(logs.TARGET_PREFIX)
        try:
            response = await self._dispatch(request, is_logs_api)
        except LaminaError as error:
            response = json_rpc_error(error) if is_logs_api else rest_error(error)
        except Exception:
            log.exception("unexpected error in %s %s", request.method, request.path)
            response = rest_error(
                ServiceException("lamina met an unexpected error; see the server log.")
            )
        await response.send(send, request.request_id)

    async def _dispatch(self, request: Request, is_logs_api: bool) -> Response:
        url = function_urls.host_url(request.host)
        if url is not None:
            return await function_urls.serve_host(self.services, request, *url)
        if request.path.startswith(_OWN_PREFIX):
            return await self._own_route(request)
        await self._authenticate(request, "logs" if is_logs_api else "lambda")
        if is_logs_api and request.method == "POST":
            return await logs.handle(self.services, request)
        handler, params = self.router.match(request.method, request.path)
        return await handler(self.services, request, **params)

    async def _own_route(self, request: Request) -> Response:
        """lamina's own routes: no SigV4 (code links carry their own signature, function URLs
        are authorised by their AuthType)."""
        if request.path == "/_lamina/health":
            return json_response({"status": "ok"})
        if request.path.startswith(function_urls.PATH_PREFIX):
            return await function_urls.serve_path(self.services, request)
        if request.path == "/_lamina/stats":
            await self._authenticate(request, "lambda")
            return json_response(self.services.invoker.stats())
        handler, params = self.router.match(request.method, request.path)
        return await handler(self.services, request, **params)

    async def _authenticate(self, request: Request, service: str) -> None:
        """Verify the request's SigV4 signature; the caller becomes ``request.caller``."""
        credentials = self.services.credentials
        if credentials is None:
            return
        await request.body(
            MAX_SIGNED_BODY_BYTES, functions.too_large_for(request.method, request.path)
        )
        request.caller = sigv4.verify(
            request.signed(), credentials, self.services.region, (service,)
        )
        if request.caller.account != self.services.account and not _invocation(request):
            raise AccessDeniedException(
                f"User: {request.caller.principal} is not authorized to perform this operation "
                f"on resources of account {self.services.account}."
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message: dict[str, Any] = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    if self._on_startup is not None:
                        await self._on_startup()
                except Exception as exc:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._on_shutdown is not None:
                    await self._on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _invocation(request: Request) -> bool:
    """Invocations (Invoke, InvokeAsync, InvokeWithResponseStream) may come from other
    accounts; their authorisation is the policy's."""
    return request.method == "POST" and bool(_INVOCATION.fullmatch(request.path))
