"""Reserved concurrency on synchronous calls: over the limit is a 429, as on AWS."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.local_stack.lambda_service.helpers import invoke_json, wait_for


def test_sync_invoke_over_reserved_concurrency_is_throttled(
    lambda_client: Any, deploy: Callable[..., str], tmp_path: Path
) -> None:
    name = deploy("record.handler")
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    started = tmp_path / "started"
    busy_event = {"path": str(tmp_path / "busy.jsonl"), "id": "busy", "sleep": 1.0, "announce": str(started)}
    busy = threading.Thread(target=invoke_json, args=(lambda_client, name, busy_event))
    busy.start()
    try:
        assert wait_for(started.exists, timeout=5)
        with pytest.raises(lambda_client.exceptions.TooManyRequestsException) as raised:
            invoke_json(lambda_client, name, {"path": str(tmp_path / "other.jsonl"), "id": "second"})
        error = raised.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    finally:
        busy.join()
    assert invoke_json(lambda_client, name, {"path": str(tmp_path / "after.jsonl"), "id": "after"})[1] == {
        "id": "after"
    }


def test_zero_reserved_concurrency_throttles_every_sync_call(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("basic.describe")
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(lambda_client.exceptions.TooManyRequestsException):
        lambda_client.invoke(FunctionName=name)
    lambda_client.delete_function_concurrency(FunctionName=name)
    assert lambda_client.invoke(FunctionName=name)["StatusCode"] == 200
