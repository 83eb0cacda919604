"""Running one invocation end to end: a concurrency slot, an environment, the run, and its log.

Both the synchronous API and the asynchronous queue go through here, so reserved concurrency
counts every running invocation of a function, whichever way it came in.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from local_stack.lambda_service.functions import LATEST, Function
from local_stack.lambda_service.invocation import Execution, Invocation
from local_stack.lambda_service.logs import CloudWatchShipper, InvocationReport, LogStore
from local_stack.lambda_service.pool import EnvironmentPool
from local_stack.lambda_service.tracing import TraceContext

__all__ = ["ConcurrencyGate", "InvocationResult", "Invoker"]

logger = logging.getLogger(__name__)


class ConcurrencyGate:
    """Counts running invocations per function against its reserved concurrency."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}
        self._on_release: list[Callable[[], None]] = []

    def on_release(self, listener: Callable[[], None]) -> None:
        self._on_release.append(listener)

    def try_acquire(self, function: Function) -> bool:
        with self._lock:
            running = self._running.get(function.name, 0)
            if function.reserved_concurrency is not None and running >= function.reserved_concurrency:
                return False
            self._running[function.name] = running + 1
            return True

    def release(self, name: str) -> None:
        with self._lock:
            self._running[name] -= 1
        for listener in self._on_release:
            listener()


@dataclass(frozen=True)
class InvocationResult:
    """What the API answers (and the async queue reports) about one finished invocation."""

    request_id: str
    payload: bytes
    function_error: str | None
    log: bytes


def compose_log(execution: Execution, function: Function) -> bytes:
    """The invocation's log as Lambda writes it: init output, START, output, platform lines, END, REPORT."""
    outcome = execution.outcome
    parts = []
    if execution.init_duration_ms is not None:
        parts.append(f"INIT_START Runtime Version: {function.runtime}.local\tRuntime Version ARN: local\n".encode())
    parts.append(execution.preamble)
    parts.append(f"START RequestId: {execution.request_id} Version: {LATEST}\n".encode())
    output = execution.output
    if output and not output.endswith(b"\n"):
        output += b"\n"
    parts.append(output)
    parts.append(outcome.platform_log)
    parts.append(f"END RequestId: {execution.request_id}\n".encode())
    report = InvocationReport(
        request_id=execution.request_id,
        duration_ms=execution.duration_ms,
        memory_size_mb=function.memory_size,
        max_memory_used_mb=execution.max_memory_mb,
        init_duration_ms=execution.init_duration_ms,
        status=outcome.status,
        error_type=outcome.error_type if outcome.status else None,
    )
    parts.append(report.line())
    return b"".join(parts)


class Invoker:
    def __init__(self, pool: EnvironmentPool, log_store: LogStore, shipper: CloudWatchShipper):
        self.gate = ConcurrencyGate()
        self._pool = pool
        self._log_store = log_store
        self._shipper = shipper

    def run(
        self,
        function: Function,
        request_id: str,
        payload: bytes,
        trace: TraceContext,
        client_context: str | None = None,
    ) -> InvocationResult:
        """Run in an environment of `function`; the caller holds a concurrency slot from `gate`."""
        invocation = Invocation(request_id, payload, function.arn, trace.header, function.timeout, client_context)
        environment = self._pool.acquire(function)
        try:
            execution = environment.invoke(invocation)
        finally:
            self._pool.release(environment)
        log = compose_log(execution, function)
        try:
            self._log_store.write(request_id, log)
        except OSError as exc:
            logger.warning("could not keep the log of %s: %s", request_id, exc)
        self._shipper.ship(function.log_group, execution.log_stream, log)
        outcome = execution.outcome
        return InvocationResult(request_id, outcome.payload, outcome.function_error, log)
