"""Where finished asynchronous events go: destinations (OnSuccess, OnFailure) and DLQs.

Targets are another lamina function (the record is queued as an asynchronous event for it,
as AWS does) or an SQS queue at a configured SQS-compatible endpoint. A failed delivery is
counted (``dead_letter_errors``, AWS's DeadLetterErrors) and logged, never silently dropped.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from lamina import arns

log = logging.getLogger(__name__)

FUNCTION_ARN_PREFIX = "arn:aws:lambda:"
SQS_ARN_PREFIX = "arn:aws:sqs:"


def invocation_record(
    *,
    request_id: str,
    function_arn: str,
    condition: str,
    approximate_invoke_count: int,
    request_payload: Any,
    response_payload: Any = None,
    function_error: str | None = None,
    executed_version: str | None = "$LATEST",
) -> dict[str, Any]:
    """AWS's invocation record document, as destinations receive it."""
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": executed_version}
    if function_error is not None:
        response_context["functionError"] = function_error
    now = datetime.datetime.now(datetime.UTC)
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": approximate_invoke_count,
        },
        "requestPayload": request_payload,
        "responseContext": response_context,
    }
    if approximate_invoke_count > 0:
        record["responsePayload"] = response_payload
    return record


class SqsSender:
    """Sends messages to SQS queues at one endpoint (AWS's or a compatible server)."""

    def __init__(self, endpoint: str, region: str, access_key: str, secret_key: str) -> None:
        self.endpoint = endpoint
        self.region = region
        self._credentials = (access_key, secret_key)
        self._client: Any = None
        self._urls: dict[str, str] = {}

    def _sqs(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client(
                "sqs",
                endpoint_url=self.endpoint,
                region_name=self.region,
                aws_access_key_id=self._credentials[0],
                aws_secret_access_key=self._credentials[1],
            )
        return self._client

    def send(self, queue_arn: str, body: str, attributes: dict[str, str] | None = None) -> None:
        """Blocking: call from a worker thread."""
        parts = queue_arn.split(":")
        account, name = parts[4], parts[5]
        url = self._urls.get(queue_arn)
        if url is None:
            url = self._sqs().get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)[
                "QueueUrl"
            ]
            self._urls[queue_arn] = url
        message: dict[str, Any] = {"QueueUrl": url, "MessageBody": body}
        if attributes:
            message["MessageAttributes"] = {
                key: {"DataType": "String", "StringValue": value}
                for key, value in attributes.items()
            }
        self._sqs().send_message(**message)


@dataclass
class Destinations:
    enqueue: Callable[[str, str | None, bytes], Awaitable[None]]
    """Queue an asynchronous event for (function name, qualifier, payload)."""
    sqs: SqsSender | None
    region: str
    account: str
    dead_letter_errors: int = 0
    delivered: int = 0

    async def deliver(self, target_arn: str, record: dict[str, Any]) -> bool:
        """Send an invocation record to a destination; False (counted, logged) on failure."""
        return await self._send(target_arn, json.dumps(record), None)

    async def dead_letter(self, target_arn: str, event: bytes, request_id: str, error: str) -> bool:
        """Send the original event to a dead-letter queue, with AWS's message attributes."""
        attributes = {"RequestID": request_id, "ErrorCode": "200", "ErrorMessage": error[:256]}
        return await self._send(target_arn, event.decode(errors="replace"), attributes)

    async def _send(self, target_arn: str, body: str, attributes: dict[str, str] | None) -> bool:
        try:
            if target_arn.startswith(FUNCTION_ARN_PREFIX):
                ref = arns.parse_function_name(target_arn)
                await self.enqueue(ref.name, ref.qualifier, body.encode())
            elif target_arn.startswith(SQS_ARN_PREFIX) and self.sqs is not None:
                await asyncio.to_thread(self.sqs.send, target_arn, body, attributes)
            else:
                raise ValueError(f"no way to deliver to {target_arn}")
        except Exception:
            self.dead_letter_errors += 1
            log.exception(
                "delivery to %s failed (DeadLetterErrors %d)", target_arn, self.dead_letter_errors
            )
            return False
        self.delivered += 1
        return True
