"""A worker's error comes back from Lambda as a FunctionError payload and maps back to its named type."""

from __future__ import annotations

import pytest

from lambda_workers.exceptions import (
    ChainBusyError,
    ChunkKeyError,
    CursorRecordError,
    EventError,
    LinkDiedError,
    RetryLaterError,
    SourceError,
    UnexpectedLinkError,
    WorkerError,
    error_from_payload,
)

RAISED_IN_LAMBDA = [
    EventError("chain.asset", "must be 1-128 characters; got 'prices/../x'"),
    EventError("validation.types.it's", "must be one of string, number; got 'decimal'"),
    CursorRecordError("/baton/prod/chains/prices/2024-01-02", "is not JSON (Expecting value at character 0)"),
    CursorRecordError("/baton/prod/chains/prices/2024-01-02", "has version 9; newer", remedy="run the newer code"),
    ChainBusyError("chain c1 of prices/2024-01-02 committed link 3 4 s ago and is still running"),
    SourceError("GET /v1/prices answered 404: not found"),
    RetryLaterError("GET /v1/prices: 429 Too Many Requests", 61.25),
    ChunkKeyError(
        "raw/x/c/chunk-1-2.jsonl.gz", "its name does not read chunk-<row_from>-<row_to> and one of .jsonl.gz, .json.gz"
    ),
    WorkerError("a plain worker error"),
]


def payload_of(error: Exception) -> dict[str, str]:
    """What Lambda's Python runtime returns for an exception the handler raised."""
    return {"errorType": type(error).__name__, "errorMessage": str(error)}


@pytest.mark.parametrize("error", RAISED_IN_LAMBDA, ids=lambda error: type(error).__name__)
def test_each_named_error_comes_back_as_itself(error: WorkerError) -> None:
    rebuilt = error_from_payload(payload_of(error))
    assert type(rebuilt) is type(error)
    assert str(rebuilt) == str(error)
    assert rebuilt.permanent == error.permanent
    kept = {name: value for name, value in vars(error).items() if name != "wait_seconds"}
    assert {name: value for name, value in vars(rebuilt).items() if name != "wait_seconds"} == kept


def test_retry_later_keeps_the_wait_to_the_tenth_of_a_second_its_message_shows() -> None:
    rebuilt = error_from_payload(payload_of(RetryLaterError("429", 61.25)))
    assert isinstance(rebuilt, RetryLaterError) and rebuilt.wait_seconds == pytest.approx(61.2)


def test_only_a_bad_event_record_or_chunk_key_is_permanent() -> None:
    assert {type(error).__name__ for error in RAISED_IN_LAMBDA if error.permanent} == {
        "EventError",
        "CursorRecordError",
        "ChunkKeyError",
    }


@pytest.mark.parametrize(
    "error_type", ["Sandbox.Timedout", "Runtime.OutOfMemory", "Runtime.ExitError", "Function.ResponseSizeTooLarge"]
)
def test_lambdas_own_errors_are_a_link_that_died(error_type: str) -> None:
    message = "RequestId: 7b1c Error: Task timed out after 1.00 seconds"
    error = error_from_payload({"errorType": error_type, "errorMessage": message})
    assert isinstance(error, LinkDiedError) and not error.permanent
    assert error.error_type == error_type and error_type in str(error) and message in str(error)


@pytest.mark.parametrize(
    ("payload", "error_type"),
    [
        ({"errorType": "KeyError", "errorMessage": "'offset'", "stackTrace": []}, "KeyError"),
        ({"errorType": "EventError", "errorMessage": "not an event error's message"}, "EventError"),
        ({"errorType": "LinkDiedError", "errorMessage": "never raised inside Lambda"}, "LinkDiedError"),
        ({"errorMessage": "no type"}, "<no errorType>"),
        (None, "<no errorType>"),
        (["a", "list"], "<no errorType>"),
    ],
)
def test_anything_else_is_unexpected_and_keeps_its_type_name(payload: object, error_type: str) -> None:
    error = error_from_payload(payload)
    assert isinstance(error, UnexpectedLinkError) and not error.permanent
    assert error.error_type == error_type and error_type in str(error)
