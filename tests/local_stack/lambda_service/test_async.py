"""Asynchronous invocations: queued, retried with Lambda's (scaled) waits, then reported to SQS destinations."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.local_stack.lambda_service.helpers import RETRY_DELAY_SCALE, receive_json, wait_for


def _attempts(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_failed_event_is_retried_then_sent_to_the_on_failure_queue(
    lambda_client: Any, deploy: Callable[..., str], queue: tuple[str, str], sqs: Any, tmp_path: Path
) -> None:
    url, arn = queue
    name = deploy("record.handler")
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    event = {"path": str(tmp_path / "attempts.jsonl"), "fail": True, "id": "order-1"}
    response = lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event))
    assert response["StatusCode"] == 202
    request_id = response["ResponseMetadata"]["RequestId"]

    records = receive_json(sqs, url, timeout=10)
    attempts = _attempts(tmp_path / "attempts.jsonl")
    assert len(attempts) == 3  # the first attempt and Lambda's default 2 retries
    assert {attempt["request_id"] for attempt in attempts} == {request_id}
    first_wait = attempts[1]["start"] - attempts[0]["end"]
    second_wait = attempts[2]["start"] - attempts[1]["end"]
    assert 60 * RETRY_DELAY_SCALE * 0.9 <= first_wait < 60 * RETRY_DELAY_SCALE + 0.5
    assert 120 * RETRY_DELAY_SCALE * 0.9 <= second_wait < 120 * RETRY_DELAY_SCALE + 0.5

    assert len(records) == 1
    record = records[0]
    assert record["version"] == "1.0" and record["timestamp"].endswith("Z")
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{name}:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == event
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["responsePayload"]["errorMessage"] == "failing on purpose (order-1)"


def test_retry_attempts_zero_and_success_destination(
    lambda_client: Any, deploy: Callable[..., str], queue: tuple[str, str], sqs: Any, tmp_path: Path
) -> None:
    url, arn = queue
    name = deploy("record.handler")
    lambda_client.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": arn}, "OnSuccess": {"Destination": arn}},
    )
    failing = {"path": str(tmp_path / "failing.jsonl"), "fail": True, "id": "f"}
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(failing))
    [failure] = receive_json(sqs, url, timeout=5)
    assert failure["requestContext"]["condition"] == "RetriesExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 1
    assert len(_attempts(tmp_path / "failing.jsonl")) == 1

    succeeding = {"path": str(tmp_path / "ok.jsonl"), "id": "s"}
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(succeeding))
    [success] = receive_json(sqs, url, timeout=5)
    assert success["requestContext"]["condition"] == "Success"
    assert success["responsePayload"] == {"id": "s"}
    assert "functionError" not in success["responseContext"]


def test_throttled_events_wait_in_the_queue(lambda_client: Any, deploy: Callable[..., str], tmp_path: Path) -> None:
    name = deploy("record.handler")
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    path = tmp_path / "serial.jsonl"
    for index in range(3):
        event = {"path": str(path), "id": index, "sleep": 0.2}
        assert (
            lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event))["StatusCode"]
            == 202
        )
    assert wait_for(lambda: len(_attempts(path)) == 3, timeout=10)
    runs = sorted(_attempts(path), key=lambda run: run["start"])
    assert [run["id"] for run in runs] == [0, 1, 2]
    for earlier, later in itertools.pairwise(runs):
        assert later["start"] >= earlier["end"]  # one at a time: never more than the reserved concurrency
    assert len({run["pid"] for run in runs}) == 1


def test_event_older_than_its_maximum_age_is_dropped(
    lambda_client: Any, deploy: Callable[..., str], queue: tuple[str, str], sqs: Any, tmp_path: Path
) -> None:
    url, arn = queue
    name = deploy("record.handler", Timeout=5)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, MaximumEventAgeInSeconds=60, DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    path = tmp_path / "aged.jsonl"
    blocker = {"path": str(path), "id": "blocker", "sleep": 1.6}  # holds the only slot past the 1.2 s (scaled) age
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(blocker))
    waiting = {"path": str(path), "id": "late"}
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(waiting))
    [record] = receive_json(sqs, url, timeout=5)
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"] == waiting
    assert "responseContext" not in record
    assert wait_for(lambda: [run["id"] for run in _attempts(path)] == ["blocker"], timeout=3)


def test_zero_reserved_concurrency_sends_events_straight_to_the_destination(
    lambda_client: Any, deploy: Callable[..., str], queue: tuple[str, str], sqs: Any, tmp_path: Path
) -> None:
    url, arn = queue
    name = deploy("record.handler")
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    event = {"path": str(tmp_path / "never.jsonl"), "id": "z"}
    assert (
        lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event))["StatusCode"] == 202
    )
    [record] = receive_json(sqs, url, timeout=5)
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert not (tmp_path / "never.jsonl").exists()


def test_dead_letter_queue_gets_the_bare_event(
    lambda_client: Any, deploy: Callable[..., str], queue: tuple[str, str], sqs: Any, tmp_path: Path
) -> None:
    url, arn = queue
    name = deploy("record.handler", DeadLetterConfig={"TargetArn": arn})
    lambda_client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    event = {"path": str(tmp_path / "dlq.jsonl"), "fail": True, "id": "dead"}
    request_id = lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event))[
        "ResponseMetadata"
    ]["RequestId"]
    messages = sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=5, MaxNumberOfMessages=1
    ).get("Messages", [])
    [message] = messages
    assert json.loads(message["Body"]) == event
    assert message["MessageAttributes"]["RequestID"]["StringValue"] == request_id
    assert "failing on purpose" in message["MessageAttributes"]["ErrorMessage"]["StringValue"]
