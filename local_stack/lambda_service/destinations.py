"""Invocation records of asynchronous events, sent where Lambda sends them.

On success or after the last failed attempt, Lambda sends an invocation record (version,
timestamp, requestContext, requestPayload, responseContext, responsePayload) to the function's
OnSuccess / OnFailure destination, and the bare event to its dead-letter queue. Here the
destinations are SQS queues of the local AWS (moto), reached through boto3 with the endpoint
settings the service inherited. Other destination types are logged and skipped.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from local_stack.lambda_service.functions import LATEST, Function

__all__ = ["Destinations", "invocation_record"]

logger = logging.getLogger(__name__)


def _json_or_text(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")


def invocation_record(
    function: Function,
    request_id: str,
    request_payload: bytes,
    condition: str,
    invoke_count: int,
    response_payload: bytes | None = None,
    function_error: str | None = None,
) -> dict[str, Any]:
    """The JSON document Lambda sends to an asynchronous invocation's destination."""
    now = time.time()
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z",
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{function.arn}:{LATEST}",
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": _json_or_text(request_payload),
    }
    if response_payload is not None:
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": LATEST}
        if function_error:
            response_context["functionError"] = function_error
        record["responseContext"] = response_context
        record["responsePayload"] = _json_or_text(response_payload) if response_payload else None
    return record


class Destinations:
    """Sends records to SQS queues named by ARN; failures to deliver are logged, as Lambda only counts them."""

    def __init__(self, environ: Mapping[str, str]):
        self._endpoint = environ.get("AWS_ENDPOINT_URL_SQS") or environ.get("AWS_ENDPOINT_URL")
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._queue_urls: dict[str, str] = {}

    def send_record(self, destination: str | None, record: Mapping[str, Any]) -> None:
        if destination:
            self._send(destination, json.dumps(record), None)

    def send_dead_letter(self, function: Function, request_id: str, payload: bytes, error: str) -> None:
        """The bare event, with Lambda's RequestID / ErrorCode / ErrorMessage attributes."""
        if not function.dead_letter_target:
            return
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": error[:1024] or "Unhandled"},
        }
        self._send(function.dead_letter_target, payload.decode("utf-8", "replace"), attributes)

    def _send(self, arn: str, body: str, attributes: dict[str, Any] | None) -> None:
        parts = arn.split(":")
        if len(parts) != 6 or parts[2] != "sqs":
            logger.warning("destination %s is not an SQS queue: the local Lambda service only delivers to SQS", arn)
            return
        region, account, queue_name = parts[3], parts[4], parts[5]
        try:
            client = self._client(region)
            url = self._queue_urls.get(arn)
            if url is None:
                url = client.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account)["QueueUrl"]
                self._queue_urls[arn] = url
            kwargs: dict[str, Any] = {"QueueUrl": url, "MessageBody": body}
            if attributes:
                kwargs["MessageAttributes"] = attributes
            client.send_message(**kwargs)
        except Exception as exc:
            logger.warning("could not deliver an invocation record to %s: %s", arn, exc)

    def _client(self, region: str) -> Any:
        with self._lock:
            client = self._clients.get(region)
            if client is None:
                import boto3

                client = boto3.session.Session().client("sqs", region_name=region, endpoint_url=self._endpoint)
                self._clients[region] = client
            return client
