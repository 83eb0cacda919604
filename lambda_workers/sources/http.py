"""A small HTTP client for vendor APIs: persistent connections, retries that honour Retry-After.

Standard library only, so the worker zip needs nothing vendored. 429 and 5xx answers, dropped
connections and truncated bodies are retried with exponential backoff and jitter; a wait that
would not fit in the link's remaining time becomes `RetryLaterError`, and the next link retries.
A rate limit spaces requests out. Header values are never logged, and secret query parameters
never appear in a URL the client reports: either may be the API key.

`prefetch` asks for a page the caller expects to want next, on a connection of its own, while
the caller works on the page it has: the vendor prepares one page while the worker parses the
last. It is only a head start. A prefetched answer is used when the very same request comes and
it succeeded; anything else (a failure, an error status, another request) is dropped and the
request made as usual, with its retries. Without a rate limit only: with one, every request
goes through the pacing.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from lambda_workers.exceptions import RetryLaterError, SourceError

__all__ = ["HttpClient", "HttpResponse", "excerpt"]

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
TRANSIENT_ERRORS = (ConnectionError, http.client.HTTPException, socket.timeout, TimeoutError)


@dataclass(frozen=True)
class HttpResponse:
    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed; a body that is not JSON is a SourceError naming the URL, its type and how it starts.

        The type and the first characters tell an HTML page from a proxy or a maintenance
        screen (answered 200) apart from a vendor's malformed JSON at a glance.
        """
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            kind = self.headers.get("content-type", "no Content-Type")
            problem = f"the body is not JSON ({exc}); {kind}, starting {excerpt(self.body)!r}"
            raise SourceError(f"{self.url}: {problem}") from exc


def excerpt(body: bytes, limit: int = 160) -> str:
    """The first `limit` characters of a body on one line, for an error message."""
    return " ".join(body[: limit * 4].decode(errors="replace").split())[:limit]


class HttpClient:
    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        remaining_seconds: Callable[[], float],
        *,
        timeout: float = 30.0,
        max_attempts: int = 8,
        backoff_base: float = 0.1,
        backoff_max: float = 20.0,
        reserve_seconds: float = 1.0,
        credentials: str | None = None,
        on_rejected: Callable[[], None] | None = None,
        secret_params: Mapping[str, str] | None = None,
        requests_per_second: float | None = None,
    ):
        """`credentials` says where the secret comes from; a 401 or 403 answer names it.

        `on_rejected` runs on such an answer: the caller forgets a cached secret, so a key fixed
        in Parameter Store is read again by the next link instead of a warm one resending the old.
        `secret_params` go on every request's query but into no reported URL.
        `requests_per_second` spaces requests at least `1 / requests_per_second` apart.
        """
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SourceError(f"base URL {base_url!r} is not an http(s) URL")
        self._on_rejected = on_rejected
        self.base_url = base_url
        self._scheme = parts.scheme
        self._netloc = parts.netloc
        self._headers = {"Accept-Encoding": "identity", "Connection": "keep-alive", **headers}
        self._remaining = remaining_seconds
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._reserve = reserve_seconds
        self._credentials = credentials
        self._secret_query = urlencode(dict(secret_params or {}))
        self._interval = 1.0 / requests_per_second if requests_per_second else 0.0
        self._last_request = 0.0
        self._conn: http.client.HTTPConnection | None = None
        self._ahead_conn: http.client.HTTPConnection | None = None
        self._ahead: _Prefetch | None = None

    def get(self, path: str, params: Mapping[str, object] | None = None) -> HttpResponse:
        """GET `path` (relative to the base URL, or absolute on the same host), retrying transient failures."""
        url, request_path = self._target(path, params)
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            answer = ahead.wait()
            if ahead.request_path == request_path and answer is not None and answer[0] < 300:
                return HttpResponse(urljoin(url, request_path), answer[0], answer[1], answer[2])
        return self.request("GET", path, params)

    def prefetch(self, path: str, params: Mapping[str, object] | None = None) -> None:
        """Start the GET that `get(path, params)` would make, for the next `get` to take (see the module)."""
        if self._interval or self._ahead is not None:
            return
        _, request_path = self._target(path, params)
        self._ahead = _Prefetch(request_path, self._fetch_ahead)

    def post_json(self, path: str, payload: object) -> HttpResponse:
        return self.request("POST", path, None, json.dumps(payload).encode())

    def request(
        self, method: str, path: str, params: Mapping[str, object] | None = None, body: bytes | None = None
    ) -> HttpResponse:
        url, request_path = self._target(path, params)
        target = urlsplit(url)
        last_problem = ""
        for attempt in range(1, self._max_attempts + 1):
            try:
                self._pace()
                status, headers, content = self._request(method, request_path, body)
            except TRANSIENT_ERRORS as exc:
                self._close()
                last_problem = f"{type(exc).__name__}: {exc}"
                wait = self._backoff(attempt)
            else:
                if status < 300:  # the URL with its query, so that an error names the very page
                    return HttpResponse(urljoin(url, request_path), status, headers, content)
                if status not in RETRY_STATUSES:
                    problem = f"{method} {target.path} answered {status}: {excerpt(content, 300)}"
                    if status in (401, 403) and self._credentials:
                        problem += f"; the credentials come from {self._credentials}"
                    if status in (401, 403) and self._on_rejected is not None:
                        self._on_rejected()
                    raise SourceError(problem)
                last_problem = f"HTTP {status}: {excerpt(content)}"
                wait = max(self._retry_after(headers), self._backoff(attempt))
            if attempt == self._max_attempts:
                break
            if wait > self._remaining() - self._reserve:
                raise RetryLaterError(f"{method} {target.path}: {last_problem}", wait)
            logger.info("%s %s: %s; retry %d in %.2f s", method, target.path, last_problem, attempt, wait)
            time.sleep(wait)
        raise SourceError(f"{method} {target.path} failed {self._max_attempts} times; last: {last_problem}")

    def _target(self, path: str, params: Mapping[str, object] | None) -> tuple[str, str]:
        """The URL of `path`, and the path with its query as sent; `SourceError` if it leaves the host."""
        url = urljoin(self.base_url, path)
        target = urlsplit(url)
        if target.netloc != self._netloc:
            raise SourceError(f"URL {url!r} leaves the source's host {self._netloc!r}")
        query = "&".join(q for q in (target.query, urlencode(params or {}, doseq=True)) if q)
        return url, (target.path or "/") + (f"?{query}" if query else "")

    def _fetch_ahead(self, request_path: str) -> tuple[int, dict[str, str], bytes]:
        """One attempt on the prefetch connection; its failure only means the request is made again."""
        try:
            return self._request("GET", request_path, None, ahead=True)
        except BaseException:
            if self._ahead_conn is not None:
                self._ahead_conn.close()
                self._ahead_conn = None
            raise

    def _pace(self) -> None:
        """Wait until the rate limit allows the next request (a no-op without one)."""
        wait = self._last_request + self._interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_request = time.monotonic()

    def _request(
        self, method: str, request_path: str, body: bytes | None, ahead: bool = False
    ) -> tuple[int, dict[str, str], bytes]:
        if self._secret_query:
            request_path += ("&" if "?" in request_path else "?") + self._secret_query
        conn = self._ahead_conn if ahead else self._conn
        if conn is None:
            connection_class = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
            conn = connection_class(self._netloc, timeout=self._timeout)
            if ahead:
                self._ahead_conn = conn
            else:
                self._conn = conn
        headers = self._headers if body is None else {**self._headers, "Content-Type": "application/json"}
        conn.request(method, request_path, body=body, headers=headers)
        response = conn.getresponse()
        body = response.read()  # raises IncompleteRead on a truncated body
        headers = {k.lower(): v for k, v in response.getheaders()}
        if response.will_close:
            conn.close()
            if ahead:
                self._ahead_conn = None
            else:
                self._conn = None
        return response.status, headers, body

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0.5, 1.0) * min(self._backoff_max, self._backoff_base * 2 ** (attempt - 1))

    @staticmethod
    def _retry_after(headers: Mapping[str, str]) -> float:
        value = headers.get("retry-after")
        if not value:
            return 0.0
        if value.strip().isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return 0.0
        return max(0.0, when.timestamp() - time.time())


class _Prefetch:
    """One request made on a thread of its own; `wait` gives its answer, or None if it failed."""

    def __init__(self, request_path: str, fetch: Callable[[str], tuple[int, dict[str, str], bytes]]):
        self.request_path = request_path
        self._fetch = fetch
        self._answer: tuple[int, dict[str, str], bytes] | None = None
        # A daemon: a link that ends with a prefetch in flight does not wait for it.
        self._thread = threading.Thread(target=self._run, name="http-prefetch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._answer = self._fetch(self.request_path)
        except Exception as exc:  # any failure: the request is made again, with its retries
            logger.debug("prefetch of %s failed: %s", self.request_path.split("?")[0], exc)

    def wait(self) -> tuple[int, dict[str, str], bytes] | None:
        self._thread.join()
        return self._answer
