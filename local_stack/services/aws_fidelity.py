"""Two behaviours of real AWS that moto's server lacks, added as WSGI middleware around it.

Baton's chain reliability rests on both, so the local AWS must reproduce them or the code that
copes with them is never exercised before production:

- SSM throttling. Parameter Store serves a limited number of transactions per second per account
  and region (40 by default) and answers the excess with HTTP 400 `ThrottlingException: Rate
  exceeded`, which botocore's retry modes retry. moto never throttles. `SsmThrottle` is a token
  bucket over every SSM call, off unless configured (`BATON_SSM_TPS` at start, or at runtime
  through `ADMIN_PATH`, so a test or a soak can switch it without restarting the stack).
- Atomic S3 conditional writes. Real S3 guarantees that of two racing `If-None-Match: *` (or
  `If-Match: <etag>`) writers of one key exactly one wins and the other gets 412. moto checks the
  condition and then writes, unguarded, in whichever server thread runs the request, so both can
  win. The middleware runs conditional writes one at a time, which makes check-then-write atomic.
"""

from __future__ import annotations

import io
import json
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import get_input_stream

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = [
    "ADMIN_PATH",
    "TPS_VARIABLE",
    "AwsFidelityMiddleware",
    "SsmThrottle",
    "parse_tps",
    "tps_from_environment",
]

ADMIN_PATH = "/_baton/ssm-throttle"
"""GET: the throttle's setting and counts; POST `{"tps": <positive number> | null}`: change it.

No S3 path-style request can collide with it: bucket names cannot start with an underscore.
"""

TPS_VARIABLE = "BATON_SSM_TPS"
"""The throttle's rate when the service starts; unset or empty means off."""

_SSM_TARGET_PREFIX = "AmazonSSM."
_CONDITIONAL_WRITE_METHODS = frozenset({"PUT", "POST", "DELETE"})
_THROTTLED_BODY = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()


def parse_tps(value: object) -> float | None:
    """A rate from the admin endpoint's JSON: a positive finite number, or None for off.

    Booleans are refused although Python counts them as integers: `{"tps": true}` is a mistake.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"tps must be a positive number or null, not {value!r}")
    return float(value)


def tps_from_environment(environ: Mapping[str, str]) -> float | None:
    """The starting rate from `BATON_SSM_TPS`; a value that is not a positive number is an error."""
    raw = environ.get(TPS_VARIABLE, "").strip()
    if not raw:
        return None
    try:
        return parse_tps(float(raw))
    except ValueError as exc:
        raise ValueError(f"{TPS_VARIABLE}={raw!r}: must be a positive number of SSM calls per second") from exc


class SsmThrottle:
    """A token bucket shared by all SSM calls, with counts of the calls it served and refused.

    The bucket holds at most `tps` tokens (at least one, so a rate below 1/s still admits calls),
    refills continuously at `tps` per second and starts full, as AWS lets a short burst through
    before throttling. The counts run whether or not the throttle is on, so a caller can compare
    its own tally of successes and ThrottlingExceptions with what the service saw.
    """

    def __init__(self, tps: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._served = 0
        self._throttled = 0
        self._tps: float | None = None
        self._tokens = 0.0
        self._refilled_at = 0.0
        self.set_rate(tps)

    def set_rate(self, tps: float | None) -> None:
        """Switch the rate (None: off); the bucket starts full at the new rate."""
        with self._lock:
            self._tps = tps
            self._tokens = _capacity(tps)
            self._refilled_at = self._clock()

    def admit(self) -> bool:
        """Take a token for one SSM call: False means answer it with ThrottlingException."""
        with self._lock:
            if self._tps is not None:
                now = self._clock()
                elapsed = now - self._refilled_at
                self._tokens = min(_capacity(self._tps), self._tokens + elapsed * self._tps)
                self._refilled_at = now
                if self._tokens < 1.0:
                    self._throttled += 1
                    return False
                self._tokens -= 1.0
            self._served += 1
            return True

    def snapshot(self) -> dict[str, float | int | None]:
        """What the admin endpoint reports: the rate (None: off) and the calls served and throttled."""
        with self._lock:
            return {"tps": self._tps, "served": self._served, "throttled": self._throttled}


def _capacity(tps: float | None) -> float:
    return 0.0 if tps is None else max(tps, 1.0)


class AwsFidelityMiddleware:
    """Wraps moto's server app: the admin endpoint, the SSM throttle, atomic conditional writes."""

    def __init__(self, app: WSGIApplication, throttle: SsmThrottle) -> None:
        self._app = app
        self._throttle = throttle
        self._conditional_writes = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == ADMIN_PATH:
            return self._admin(Request(environ))(environ, start_response)
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith(_SSM_TARGET_PREFIX):
            if self._throttle.admit():
                return self._app(environ, start_response)
            return _throttled(environ)(environ, start_response)
        if environ.get("REQUEST_METHOD") in _CONDITIONAL_WRITE_METHODS and (
            "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MATCH" in environ
        ):
            return self._conditional_write(environ, start_response)
        return self._app(environ, start_response)

    def _admin(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                payload = json.loads(request.get_data() or b"null")
                if not isinstance(payload, dict) or "tps" not in payload:
                    raise ValueError('expected a JSON object {"tps": <positive number> | null}')
                self._throttle.set_rate(parse_tps(payload["tps"]))
            except ValueError as exc:  # json.JSONDecodeError is one
                return _json_response(400, {"error": str(exc)})
        elif request.method != "GET":
            return _json_response(405, {"error": f"{request.method} not allowed: GET or POST"})
        return _json_response(200, self._throttle.snapshot())

    def _conditional_write(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Run one conditional write (S3 PutObject, CompleteMultipartUpload, DeleteObject) alone.

        One lock for all keys is enough: conditional writes are fences, few and small. The body
        is read from the client before taking the lock, so a slow upload holds no one up; the
        lock then covers only moto's in-memory check and write, which Flask runs before it
        returns the response. Unconditional requests never touch the lock.
        """
        environ["wsgi.input"] = io.BytesIO(get_input_stream(environ).read())
        with self._conditional_writes:
            return self._app(environ, start_response)


def _throttled(environ: WSGIEnvironment) -> Response:
    """The answer AWS gives past the rate: HTTP 400 and the JSON 1.1 error botocore parses.

    The request body is read first: werkzeug closes the connection after each response, and
    closing a socket with unread input makes the kernel reset it, which can lose the answer.
    """
    get_input_stream(environ).read()
    return Response(
        _THROTTLED_BODY,
        status=400,
        headers={"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": str(uuid.uuid4())},
    )


def _json_response(status: int, payload: Mapping[str, object]) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json")
