"""A link shorter than its function's timeout: the Lambda context with an earlier deadline.

`link_seconds` in the event makes each link hand on after that long, though the function may
run for up to 15 minutes: more links, each committing and handing on sooner (finer progress in
the UI, a chain that another deployment's timeout does not decide). Everything that asks how
long is left (the time budget, the lease, the HTTP client's waits) asks this context.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["ShortLinkContext"]


class ShortLinkContext:
    """`context`, but with at most `seconds` from now left; every other attribute is the context's own."""

    def __init__(self, context: Any, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._context = context
        self._clock = clock
        self._deadline = clock() + seconds

    def get_remaining_time_in_millis(self) -> int:
        own = int((self._deadline - self._clock()) * 1000)
        return max(0, min(own, int(self._context.get_remaining_time_in_millis())))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)
