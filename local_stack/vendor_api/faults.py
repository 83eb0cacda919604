"""Fault knobs for tests, and the request counters that let a test assert what reached the API.

Every decision is a pure function of (fail_seed, the ordinal of the authenticated /v1 request
since the last reset), so a test that replays the same requests sees the same faults:

- `latency_ms`: added to every /v1 request;
- `burst_429`: the next N /v1 requests are answered 429 with `Retry-After: retry_after_s`;
- `error_rate`: that fraction of /v1 requests is answered 500 or 503;
- `truncate_rate`: that fraction of /v1 responses is cut off mid-body, after a Content-Length
  announcing the full body, and the connection is closed.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass, replace
from typing import Any

from local_stack.vendor_api.exceptions import BadRequest
from local_stack.vendor_api.hashing import hash_ints, salt, unit

__all__ = ["FaultDecision", "FaultInjector", "Knobs", "RequestStats"]

_SALT_ERROR = salt("fault-error")
_SALT_TRUNCATE = salt("fault-truncate")


@dataclass(frozen=True)
class Knobs:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    burst_429: int = 0
    retry_after_s: int = 1
    truncate_rate: float = 0.0
    fail_seed: int = 0

    def updated(self, changes: dict[str, Any]) -> Knobs:
        """A copy with `changes` applied; an unknown knob or a value out of range is a BadRequest."""
        known = set(asdict(self))
        unknown = sorted(set(changes) - known)
        if unknown:
            raise BadRequest(f"unknown knob(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        for name, value in changes.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise BadRequest(f"{name}: must be a number, got {value!r}")
            if name in ("burst_429", "retry_after_s", "fail_seed") and not float(value).is_integer():
                raise BadRequest(f"{name}: must be an integer, got {value!r}")
            if name.endswith("_rate") and not 0.0 <= value <= 1.0:
                raise BadRequest(f"{name}: must be between 0 and 1, got {value}")
            if name != "fail_seed" and value < 0:
                raise BadRequest(f"{name}: must be >= 0, got {value}")
        coerced = {
            name: int(v) if name in ("burst_429", "retry_after_s", "fail_seed") else float(v)
            for name, v in changes.items()
        }
        return replace(self, **coerced)


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one /v1 request: `status` replaces the answer (429, 500 or 503) when set."""

    ordinal: int
    latency_s: float
    status: int | None = None
    retry_after_s: int | None = None
    truncate: bool = False


class FaultInjector:
    """The current knobs and the request ordinal the decisions are derived from."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._knobs = Knobs()
        self._ordinal = 0
        self._burst_left = 0

    @property
    def knobs(self) -> Knobs:
        return self._knobs

    def update(self, changes: dict[str, Any]) -> Knobs:
        with self._lock:
            self._knobs = self._knobs.updated(changes)
            if "burst_429" in changes:
                self._burst_left = self._knobs.burst_429
            return self._knobs

    def reset(self) -> None:
        with self._lock:
            self._knobs = Knobs()
            self._ordinal = 0
            self._burst_left = 0

    def decide(self) -> FaultDecision:
        """The fault (if any) of the next authenticated /v1 request."""
        with self._lock:
            self._ordinal += 1
            ordinal, knobs = self._ordinal, self._knobs
            if self._burst_left > 0:
                self._burst_left -= 1
                return FaultDecision(ordinal, knobs.latency_ms / 1000.0, 429, knobs.retry_after_s)
        error_draw = hash_ints(knobs.fail_seed, _SALT_ERROR, ordinal)
        if unit(error_draw) < knobs.error_rate:
            return FaultDecision(ordinal, knobs.latency_ms / 1000.0, 500 if error_draw & 1 else 503)
        truncate = unit(hash_ints(knobs.fail_seed, _SALT_TRUNCATE, ordinal)) < knobs.truncate_rate
        return FaultDecision(ordinal, knobs.latency_ms / 1000.0, truncate=truncate)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {**asdict(self._knobs), "burst_429_remaining": self._burst_left}


class RequestStats:
    """Counts of requests per endpoint and per status, since start or the last reset."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._endpoints: Counter[str] = Counter()
        self._statuses: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()

    def request(self, endpoint: str) -> None:
        with self._lock:
            self._endpoints[endpoint] += 1

    def answered(self, status: int) -> None:
        with self._lock:
            self._statuses[str(status)] += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def reset(self) -> None:
        with self._lock:
            self._endpoints.clear()
            self._statuses.clear()
            self._faults.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(sorted(self._endpoints.items())),
                "total": sum(self._endpoints.values()),
                "statuses": dict(sorted(self._statuses.items())),
                "faults": dict(sorted(self._faults.items())),
            }
