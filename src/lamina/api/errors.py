"""The one place where errors become HTTP responses, in AWS's shape.

Lambda's REST API (rest-json) carries the type in ``x-amzn-ErrorType`` and the message in the
body; CloudWatch Logs (json-1.1) carries the type as ``__type`` in the body.
"""

from __future__ import annotations

import json

from lamina.api.http import Response
from lamina.errors import LaminaError


def rest_error(error: LaminaError) -> Response:
    return Response(
        error.status,
        json.dumps(error.body()).encode(),
        {"x-amzn-errortype": error.error_type},
    )


def json_rpc_error(error: LaminaError) -> Response:
    doc = {"__type": error.error_type, "message": error.message}
    return Response(
        error.status,
        json.dumps(doc).encode(),
        {"x-amzn-errortype": error.error_type},
        content_type="application/x-amz-json-1.1",
    )
