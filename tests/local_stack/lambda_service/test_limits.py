"""Lambda's hard limits: the timeout (a kill, not an alarm), remaining time, memory, payload sizes."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.local_stack.lambda_service.helpers import alive, invoke_json, wait_for

SYNC_LIMIT = 6 * 1024 * 1024
ASYNC_LIMIT = 1024 * 1024


@pytest.mark.parametrize("handler", ["stubborn.swallow", "stubborn.spin"])
def test_timeout_kills_a_handler_that_will_not_stop(
    lambda_client: Any, deploy: Callable[..., str], handler: str
) -> None:
    name = deploy(handler, Timeout=1)
    started = time.monotonic()
    response, body = invoke_json(lambda_client, name, LogType="Tail")
    elapsed = time.monotonic() - started
    request_id = response["ResponseMetadata"]["RequestId"]
    # Not before the deadline (counted from dispatch), and killed rather than waited for: `swallow`
    # would return after 60 s and `spin` never, so 30 s tells a kill from a wait on any machine.
    assert 1.0 <= elapsed < 30, elapsed
    assert response["FunctionError"] == "Unhandled"
    assert body == {
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds",
        "errorType": "Sandbox.Timedout",
    }
    log = base64.b64decode(response["LogResult"]).decode()
    assert f"{request_id} Task timed out after 1.00 seconds" in log
    assert "Status: timeout" in log.splitlines()[-1]


def test_timed_out_environment_is_replaced(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("basic.sleep", Timeout=1)
    first = invoke_json(lambda_client, name, {"seconds": 0})[1]["pid"]
    response, _ = invoke_json(lambda_client, name, {"seconds": 5})
    assert response["FunctionError"] == "Unhandled"
    assert wait_for(lambda: not alive(first), timeout=5)
    second = invoke_json(lambda_client, name, {"seconds": 0})[1]["pid"]
    assert second != first


def test_remaining_time_counts_down_from_the_timeout(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("stubborn.remaining", Timeout=2)
    before_ms = time.time() * 1000
    body = invoke_json(lambda_client, name, {"pause": 0.3})[1]
    assert 1850 <= body["first"] <= 2000
    assert 250 <= body["first"] - body["second"] <= 400
    assert before_ms + 2000 <= body["deadline_ms"] <= before_ms + 2000 + 1000


def test_memory_over_the_limit_kills_the_environment(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("hog.handler", MemorySize=128, Timeout=20)
    started = time.monotonic()
    response, body = invoke_json(lambda_client, name, LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    assert time.monotonic() - started < 5
    assert response["FunctionError"] == "Unhandled"
    assert body == {
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
        "errorType": "Runtime.OutOfMemory",
    }
    report = base64.b64decode(response["LogResult"]).decode().splitlines()[-1]
    assert "Max Memory Used: 128 MB" in report and "Error Type: Runtime.OutOfMemory" in report
    roomy = deploy("hog.handler", MemorySize=512)
    assert invoke_json(lambda_client, roomy, {"chunks": 4})[1] == {"held_mb": 32}


def _payload_of_size(size: int) -> bytes:
    document = json.dumps({"data": ""})
    return json.dumps({"data": "x" * (size - len(document))}).encode()


def test_sync_request_payload_limit(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("basic.payload_size")
    at_limit = _payload_of_size(SYNC_LIMIT)
    assert len(at_limit) == SYNC_LIMIT
    assert json.loads(lambda_client.invoke(FunctionName=name, Payload=at_limit)["Payload"].read())["received"] > 0
    with pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName=name, Payload=_payload_of_size(SYNC_LIMIT + 1))
    assert raised.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_sync_response_payload_limit(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("basic.respond_with")
    response, body = invoke_json(lambda_client, name, {"size": 6_291_556 - 2})  # the JSON string's quotes count
    assert "FunctionError" not in response and len(body) == 6_291_556 - 2
    response, body = invoke_json(lambda_client, name, {"size": 6_291_556})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Function.ResponseSizeTooLarge"


def test_async_request_payload_limit(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("basic.payload_size")
    response = lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=_payload_of_size(ASYNC_LIMIT))
    assert response["StatusCode"] == 202
    with pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=_payload_of_size(ASYNC_LIMIT + 1))
    assert raised.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
