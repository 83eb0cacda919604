"""The named errors of the workers; each message names the input and what is wrong with it."""

from __future__ import annotations

__all__ = [
    "ChainBusyError",
    "CursorRecordError",
    "EventError",
    "RetryLaterError",
    "SourceError",
    "WorkerError",
]


class WorkerError(Exception):
    """Base of every error the workers raise on purpose."""


class EventError(WorkerError, ValueError):
    """The invocation event does not match the schema; raised before any side effect."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"event field {field!r}: {problem}")
        self.field = field


class CursorRecordError(WorkerError):
    """A cursor record in Parameter Store does not parse: never silently restart from zero."""

    def __init__(self, parameter: str, problem: str):
        super().__init__(f"cursor record {parameter}: {problem}; fix or delete the parameter to restart the chain")
        self.parameter = parameter


class ChainBusyError(WorkerError):
    """A start was asked for while another run of the same chain is still making progress."""


class SourceError(WorkerError):
    """The source answered in a way that retrying will not fix (bad status, unparseable body)."""


class RetryLaterError(WorkerError):
    """The source asked to wait longer than the link has left: the next link retries."""

    def __init__(self, reason: str, wait_seconds: float):
        super().__init__(f"{reason}; retry after {wait_seconds:.1f} s")
        self.wait_seconds = wait_seconds
