"""Lambda's internal queue for asynchronous (`Event`) invocations.

Accepted events wait here and run in the background, each in its own environment, as reserved
concurrency allows (an event over the limit waits instead of being throttled). A failed attempt
is retried per the function's event invoke config (2 retries by default); Lambda waits about one
minute before the first retry and two before the second, which this service multiplies by
`BATON_LAMBDA_RETRY_DELAY_SCALE` (default 1/60: ~1 s and ~2 s). An event older than
MaximumEventAgeInSeconds (times `BATON_LAMBDA_EVENT_AGE_SCALE`, default 1) is dropped. Dropped and
exhausted events go to the OnFailure destination and the dead-letter queue; successes go to the
OnSuccess destination. Events live in memory only: a restart of the service loses the queue.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from local_stack.lambda_service.destinations import Destinations, invocation_record
from local_stack.lambda_service.errors import ResourceNotFound
from local_stack.lambda_service.functions import Function, FunctionRegistry
from local_stack.lambda_service.invoker import InvocationResult, Invoker
from local_stack.lambda_service.tracing import TraceContext

__all__ = ["AsyncQueue", "QueuedEvent"]

logger = logging.getLogger(__name__)

#: Lambda's waits before the first and the second retry, in seconds.
RETRY_DELAYS = (60.0, 120.0)
#: Condition of the record sent when Lambda stops a recursive loop (the value AWS uses is not documented).
RECURSIVE_LOOP_CONDITION = "RecursiveInvocationDetected"


def _earliest(current: float | None, *times: float) -> float:
    return min(times) if current is None else min(current, *times)


@dataclass
class QueuedEvent:
    request_id: str
    function_name: str
    payload: bytes
    trace: TraceContext
    received_at: float
    attempts: int = 0
    not_before: float = 0.0
    last_result: InvocationResult | None = None


class AsyncQueue:
    def __init__(
        self,
        registry: FunctionRegistry,
        invoker: Invoker,
        destinations: Destinations,
        retry_delay_scale: float,
        event_age_scale: float,
    ):
        self._registry = registry
        self._invoker = invoker
        self._destinations = destinations
        self._retry_delay_scale = retry_delay_scale
        self._event_age_scale = event_age_scale
        self._cond = threading.Condition()
        self._events: list[QueuedEvent] = []
        self._stopping = False
        self._scheduler = threading.Thread(target=self._schedule, name="lambda-async-scheduler", daemon=True)
        invoker.gate.on_release(self._wake)

    def start(self) -> None:
        self._scheduler.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._scheduler.join(timeout=5)

    def submit(self, event: QueuedEvent) -> None:
        with self._cond:
            self._events.append(event)
            self._cond.notify_all()

    def function_changed(self, name: str, function: Function | None) -> None:
        """Registry listener: a deleted function's queued events are dropped; any change may free slots."""
        with self._cond:
            if function is None:
                self._events = [event for event in self._events if event.function_name != name]
            self._cond.notify_all()

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _schedule(self) -> None:
        with self._cond:
            while not self._stopping:
                wake_at = self._dispatch_ready(time.monotonic())
                timeout = None if wake_at is None else max(0.0, wake_at - time.monotonic())
                self._cond.wait(timeout)

    def _dispatch_ready(self, now: float) -> float | None:
        """Start every event that may run now; return when the next waiting one may change state."""
        wake_at: float | None = None
        for event in list(self._events):
            try:
                function = self._registry.get(event.function_name)
            except ResourceNotFound:
                self._events.remove(event)
                continue
            expires = event.received_at + function.async_config.max_event_age * self._event_age_scale
            if event.trace.loop_detected and function.recursive_loop == "Terminate":
                logger.warning(
                    "stopped a recursive loop: %s was invoked more than 16 times in one chain (event %s)",
                    function.name,
                    event.request_id,
                )
                self._events.remove(event)
                self._start(self._fail, event, function, RECURSIVE_LOOP_CONDITION)
            elif now >= expires:
                logger.info("dropping event %s of %s: older than its maximum age", event.request_id, function.name)
                self._events.remove(event)
                self._start(self._fail, event, function, "EventAgeExceeded")
            elif function.reserved_concurrency == 0:
                # Lambda sends events of a function with zero reserved concurrency on, without retries.
                self._events.remove(event)
                self._start(self._fail, event, function, "RetriesExhausted")
            elif event.not_before > now:
                wake_at = _earliest(wake_at, event.not_before, expires)
            elif self._invoker.gate.try_acquire(function):
                self._events.remove(event)
                self._start(self._execute, event, function)
            else:
                wake_at = _earliest(wake_at, expires)
        return wake_at

    def _start(self, target: Callable[..., None], *args: object) -> None:
        threading.Thread(target=self._run_worker, args=(target, *args), name="lambda-async", daemon=True).start()

    def _run_worker(self, target: Callable[..., None], *args: object) -> None:
        try:
            target(*args)
        except Exception:
            logger.exception("asynchronous event handling failed")

    def _execute(self, event: QueuedEvent, function: Function) -> None:
        event.attempts += 1
        try:
            result = self._invoker.run(function, event.request_id, event.payload, event.trace)
        finally:
            self._invoker.gate.release(function.name)
        event.last_result = result
        config = self._current(function).async_config
        if result.function_error is None:
            record = invocation_record(
                function, event.request_id, event.payload, "Success", event.attempts, result.payload
            )
            self._destinations.send_record(config.on_success, record)
        elif event.attempts <= config.retry_attempts:
            delay = RETRY_DELAYS[min(event.attempts, len(RETRY_DELAYS)) - 1] * self._retry_delay_scale
            event.not_before = time.monotonic() + delay
            logger.info(
                "event %s of %s failed; retry %d in %.2f s", event.request_id, function.name, event.attempts, delay
            )
            self.submit(event)
        else:
            self._fail(event, function, "RetriesExhausted")

    def _fail(self, event: QueuedEvent, function: Function, condition: str) -> None:
        function = self._current(function)
        result = event.last_result
        record = invocation_record(
            function,
            event.request_id,
            event.payload,
            condition,
            event.attempts,
            result.payload if result else None,
            result.function_error if result else None,
        )
        self._destinations.send_record(function.async_config.on_failure, record)
        error = (result.payload if result else condition.encode()).decode("utf-8", "replace")
        self._destinations.send_dead_letter(function, event.request_id, event.payload, error)

    def _current(self, function: Function) -> Function:
        try:
            return self._registry.get(function.name)
        except ResourceNotFound:
            return function
