"""The named errors of the workers, shared with the driver; each message names the input and what is wrong.

An error raised inside Lambda reaches a synchronous caller only as a FunctionError payload,
`{"errorType": "<ClassName>", "errorMessage": str(exc)}`. `error_from_payload` turns that payload
back into the same named class, so the driver (Dagster) decides by type, not by spelling a class
name: each class below that takes more than a message can rebuild itself from its own message.
Lambda's own errors (a link killed at its deadline or memory limit, a runtime that exited) become
`LinkDiedError`; anything else the link raised (a bug, a library's error) `UnexpectedLinkError`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import ClassVar, Self

__all__ = [
    "BucketMissingError",
    "ChainBusyError",
    "ChunkKeyError",
    "CursorRecordError",
    "EventError",
    "LinkBusyError",
    "LinkDiedError",
    "LinkResultError",
    "RetryLaterError",
    "SourceError",
    "UnexpectedLinkError",
    "WorkerError",
    "error_from_payload",
]

_QUOTED = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""  # a str's repr, as `{value!r}` writes it


class WorkerError(Exception):
    """Base of the chain's named errors: those the workers raise on purpose, and the driver's view of a failed link."""

    permanent: ClassVar[bool] = False
    """True when invoking the same event again cannot succeed, so a driver should not retry."""

    @classmethod
    def from_message(cls, message: str) -> Self | None:
        """The error rebuilt from its message alone (all a FunctionError keeps); None if it does not fit."""
        return cls(message)


class EventError(WorkerError, ValueError):
    """The invocation event does not match the schema; raised before any side effect."""

    permanent = True
    _MESSAGE = re.compile(rf"event field (?P<field>{_QUOTED}): (?P<problem>.*)", re.DOTALL)

    def __init__(self, field: str, problem: str):
        super().__init__(f"event field {field!r}: {problem}")
        self.field = field
        self.problem = problem

    @classmethod
    def from_message(cls, message: str) -> Self | None:
        match = cls._MESSAGE.fullmatch(message)
        return cls(ast.literal_eval(match["field"]), match["problem"]) if match else None


class CursorRecordError(WorkerError):
    """A cursor record in Parameter Store does not parse: never silently restart from zero."""

    permanent = True
    RESTART = "fix or delete the parameter to restart the chain"
    _MESSAGE = re.compile(r"cursor record (?P<parameter>\S+): (?P<problem>.*); (?P<remedy>[^;]*)", re.DOTALL)

    def __init__(self, parameter: str, problem: str, remedy: str = RESTART):
        super().__init__(f"cursor record {parameter}: {problem}; {remedy}")
        self.parameter = parameter
        self.problem = problem

    @classmethod
    def from_message(cls, message: str) -> Self | None:
        match = cls._MESSAGE.fullmatch(message)
        return cls(match["parameter"], match["problem"], match["remedy"]) if match else None


class ChainBusyError(WorkerError):
    """A start was asked for while another run of the same chain is still making progress."""


class SourceError(WorkerError):
    """The source answered in a way that retrying will not fix (bad status, unparseable body)."""


class RetryLaterError(WorkerError):
    """The source asked to wait longer than the link has left: the next link retries."""

    _MESSAGE = re.compile(r"(?P<reason>.*); retry after (?P<wait>-?[0-9]+\.[0-9]) s", re.DOTALL)

    def __init__(self, reason: str, wait_seconds: float):
        super().__init__(f"{reason}; retry after {wait_seconds:.1f} s")
        self.reason = reason
        self.wait_seconds = wait_seconds

    @classmethod
    def from_message(cls, message: str) -> Self | None:
        """Rebuilt from the message, `wait_seconds` keeps the message's tenth of a second."""
        match = cls._MESSAGE.fullmatch(message)
        return cls(match["reason"], float(match["wait"])) if match else None


class BucketMissingError(WorkerError):
    """The chain's bucket (the event's `sink.bucket`) does not exist: set-up, which no retry fixes."""

    permanent = True
    _MESSAGE = re.compile(r"s3://(?P<bucket>[^/]+): the chain's bucket .*", re.DOTALL)

    def __init__(self, bucket: str):
        super().__init__(
            f"s3://{bucket}: the chain's bucket (the event's sink.bucket) does not exist; "
            "create it (infra/template.yaml) or point BATON_LAKE_BUCKET at the lake"
        )
        self.bucket = bucket

    @classmethod
    def from_message(cls, message: str) -> Self | None:
        match = cls._MESSAGE.fullmatch(message)
        return cls(match["bucket"]) if match else None


class LinkBusyError(WorkerError):
    """This very request's earlier attempt still holds the link's lease, so it died without releasing it.

    Lambda retries an asynchronous event only after the attempt ended, so the holder is gone; but
    only the platform (which sees the failure through the on-failure destination, or the failed
    synchronous invoke) may break a lease. Raising makes Lambda retry, then report the event to
    the destination, where the watchdog breaks the lease and resumes the chain.
    """


class ChunkKeyError(WorkerError, ValueError):
    """An S3 key is not a chunk key: the lake cannot tell which rows it holds."""

    permanent = True
    _MESSAGE = re.compile(rf"(?P<key>{_QUOTED}) is not a chunk key: (?P<problem>.*)", re.DOTALL)

    def __init__(self, key: str, problem: str):
        super().__init__(f"{key!r} is not a chunk key: {problem}")
        self.key = key
        self.problem = problem

    @classmethod
    def from_message(cls, message: str) -> Self | None:
        match = cls._MESSAGE.fullmatch(message)
        return cls(ast.literal_eval(match["key"]), match["problem"]) if match else None


class LinkResultError(WorkerError, ValueError):
    """A link's result payload does not match `LinkResult`: the worker and the driver disagree."""

    permanent = True


class LinkDiedError(WorkerError):
    """Lambda itself ended the link (deadline, memory limit, runtime exit): nothing past its last commit stands.

    Never raised inside Lambda: the driver gets it from the FunctionError payload, whose
    `errorType` (e.g. `Sandbox.Timedout`, `Runtime.OutOfMemory`, `Runtime.ExitError`) it keeps.
    Running the link again is safe, since a link re-runs from the last committed cursor.
    """

    def __init__(self, error_type: str, message: str):
        super().__init__(f"Lambda ended the link ({error_type}): {message}")
        self.error_type = error_type


class UnexpectedLinkError(WorkerError):
    """The link raised an error the workers do not name (a bug, a library's error), kept by its type name."""

    def __init__(self, error_type: str, message: str):
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type


_RAISED_IN_LAMBDA: Mapping[str, type[WorkerError]] = {
    cls.__name__: cls
    for cls in (
        WorkerError,
        BucketMissingError,
        EventError,
        CursorRecordError,
        ChainBusyError,
        LinkBusyError,
        SourceError,
        RetryLaterError,
        ChunkKeyError,
    )
}
"""The errors a link may raise, by the name Lambda reports them under."""


def error_from_payload(payload: object) -> WorkerError:
    """The named error for a FunctionError payload of the chain function.

    A Python exception's `errorType` is its class name, which has no dot; Lambda's own errors are
    `<Category>.<Name>`, so a dotted type is a link that Lambda ended. A named error whose message
    does not have its class's shape is kept as unexpected rather than rebuilt half right.
    """
    if not isinstance(payload, Mapping) or not isinstance(payload.get("errorType"), str):
        return UnexpectedLinkError("<no errorType>", f"not a FunctionError payload: {payload!r}"[:2000])
    error_type: str = payload["errorType"]
    message = str(payload.get("errorMessage", ""))
    if "." in error_type:
        return LinkDiedError(error_type, message)
    named = _RAISED_IN_LAMBDA.get(error_type)
    rebuilt = named.from_message(message) if named is not None else None
    return rebuilt if rebuilt is not None else UnexpectedLinkError(error_type, message)
