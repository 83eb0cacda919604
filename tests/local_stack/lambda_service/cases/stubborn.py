"""Handlers that try every way to outlive their timeout."""

import contextlib
import time


def swallow(event, context):
    """Sleeps far past the timeout and swallows anything thrown at it, as a cooperative alarm would need."""
    end = time.time() + 60
    while time.time() < end:
        with contextlib.suppress(BaseException):
            time.sleep(0.01)
    return "survived"


def spin(event, context):
    """A busy loop that never yields to Python signal handlers."""
    while True:
        pass


def remaining(event, context):
    first = context.get_remaining_time_in_millis()
    time.sleep(event["pause"])
    return {
        "first": first,
        "second": context.get_remaining_time_in_millis(),
        "deadline_ms": context._epoch_deadline_time_in_ms,
    }
