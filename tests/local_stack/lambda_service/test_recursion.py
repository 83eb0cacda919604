"""Recursive loop detection: a chain of invocations carries its hop count in the trace id, as on AWS."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.local_stack.lambda_service.helpers import RunningService, invoke_json, receive_json, wait_for


def _deploy_relay(deploy: Callable[..., str], lambda_service: RunningService) -> str:
    # the handler's own boto3 client finds this service the way deployed code finds AWS: from the environment
    return deploy("recursive.handler", Environment={"Variables": {"AWS_ENDPOINT_URL_LAMBDA": lambda_service.url}})


def _hops(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def test_self_invoking_chain_is_stopped_after_16_hops(
    lambda_client: Any,
    deploy: Callable[..., str],
    lambda_service: RunningService,
    queue: tuple[str, str],
    sqs: Any,
    tmp_path: Path,
) -> None:
    url, arn = queue
    name = _deploy_relay(deploy, lambda_service)
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    path = tmp_path / "hops.txt"
    lambda_client.invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"path": str(path), "hop": 1, "until": 40})
    )
    [record] = receive_json(sqs, url, timeout=15)
    assert _hops(path) == list(range(1, 17))
    assert record["requestContext"]["condition"] == "RecursiveInvocationDetected"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"]["hop"] == 17
    assert "stopped a recursive loop" in lambda_service.log()


def test_chain_passes_16_hops_when_recursion_is_allowed(
    lambda_client: Any, deploy: Callable[..., str], lambda_service: RunningService, tmp_path: Path
) -> None:
    name = _deploy_relay(deploy, lambda_service)
    lambda_client.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    path = tmp_path / "hops.txt"
    lambda_client.invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"path": str(path), "hop": 1, "until": 20})
    )
    assert wait_for(lambda: len(_hops(path)) >= 20, timeout=15)
    assert _hops(path) == list(range(1, 21))


def _lineage(trace_id: str) -> tuple[str, int]:
    fields = dict(part.split("=", 1) for part in trace_id.split(";"))
    function_hash, count = fields["Lineage"].split(":")
    return function_hash, int(count)


@pytest.fixture
def with_trace_header(lambda_client: Any) -> Any:
    """Send a given X-Amzn-Trace-Id on Invoke, as botocore does inside a function."""
    header: dict[str, str] = {}

    def add(request: Any, **_: Any) -> None:
        if header:
            request.headers["X-Amzn-Trace-Id"] = header["value"]

    lambda_client.meta.events.register("before-sign.lambda.Invoke", add)
    yield header
    lambda_client.meta.events.unregister("before-sign.lambda.Invoke", add)


def test_sync_invoke_deep_in_a_chain_raises_recursive_invocation(
    lambda_client: Any, deploy: Callable[..., str], with_trace_header: dict[str, str]
) -> None:
    name = deploy("basic.describe")
    trace_id = invoke_json(lambda_client, name)[1]["trace_id"]
    function_hash, count = _lineage(trace_id)
    assert count == 1
    root = trace_id.split(";")[0]

    with_trace_header["value"] = f"{root};Parent=0123456789abcdef;Sampled=0;Lineage={function_hash}:15"
    deeper = invoke_json(lambda_client, name)[1]["trace_id"]
    assert deeper.split(";")[0] == root and _lineage(deeper) == (function_hash, 16)

    with_trace_header["value"] = f"{root};Parent=0123456789abcdef;Sampled=0;Lineage={function_hash}:16"
    with pytest.raises(lambda_client.exceptions.RecursiveInvocationException):
        lambda_client.invoke(FunctionName=name)
    lambda_client.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    assert _lineage(invoke_json(lambda_client, name)[1]["trace_id"]) == (function_hash, 17)
