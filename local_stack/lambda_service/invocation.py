"""One invocation as it passes between the caller's thread, the Runtime API and the supervisor.

Several parties may try to finish an invocation at once (the runtime posting its response, the
supervisor's deadline, the memory watch, the process dying): `complete` lets exactly the first
one win, so a response that arrives a hair after the deadline cannot overwrite the timeout.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

__all__ = ["Execution", "Invocation", "Outcome", "platform_error"]


@dataclass(frozen=True)
class Outcome:
    """How an invocation ended, as the caller sees it."""

    payload: bytes
    #: `X-Amz-Function-Error` ("Unhandled") when the function failed, else None.
    function_error: str | None = None
    #: The error type named in the REPORT line and log, e.g. Sandbox.Timedout.
    error_type: str | None = None
    #: `Status:` of the REPORT line ("timeout", "error"), None for a normal end.
    status: str | None = None
    #: Platform lines logged after the runtime's output (e.g. "Task timed out ...").
    platform_log: bytes = b""
    #: The environment cannot be reused (killed, crashed, failed its init).
    environment_lost: bool = False


def platform_error(error_type: str, message: str, **fields: object) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type, **fields}).encode()


class Invocation:
    """An event on its way through one execution environment."""

    def __init__(
        self,
        request_id: str,
        payload: bytes,
        function_arn: str,
        trace_header: str,
        timeout_seconds: int,
        client_context: str | None = None,
    ):
        self.request_id = request_id
        self.payload = payload
        self.function_arn = function_arn
        self.trace_header = trace_header
        self.timeout_seconds = timeout_seconds
        self.client_context = client_context
        #: Output the runtime wrote before this invocation reached it (its init, on a cold start).
        self.preamble = b""
        self.deadline_ms = 0
        self.deadline = 0.0
        self.dispatched_at: float | None = None
        self.done = threading.Event()
        self.outcome: Outcome | None = None
        self._lock = threading.Lock()

    def dispatch(self, deadline: float) -> None:
        """Handed to the runtime now; must finish by `deadline` (time.monotonic)."""
        now = time.monotonic()
        self.deadline = deadline
        self.deadline_ms = int((time.time() + (deadline - now)) * 1000)
        self.dispatched_at = now

    def complete(self, outcome: Outcome) -> bool:
        """Record the outcome unless another party already did; True when this one won."""
        with self._lock:
            if self.outcome is not None:
                return False
            self.outcome = outcome
        self.done.set()
        return True


@dataclass(frozen=True)
class Execution:
    """Everything the log and the API answer need about an invocation that ran."""

    request_id: str
    outcome: Outcome
    output: bytes
    preamble: bytes
    duration_ms: float
    init_duration_ms: float | None
    max_memory_mb: int
    log_stream: str
