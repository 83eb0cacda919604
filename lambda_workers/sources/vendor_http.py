"""What the HTTP sources share: the authenticated client, and when a partition's window closes."""

from __future__ import annotations

import base64
import email.utils
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from lambda_workers.exceptions import EventError, SourceError
from lambda_workers.sources.base import SourceContext
from lambda_workers.sources.config import optional_str, require_int, require_mapping, require_number, require_str
from lambda_workers.sources.http import HttpClient, HttpResponse

__all__ = ["CLOCK_SKEW", "Window", "client_from_config"]

CLOCK_SKEW = timedelta(minutes=15)
"""How far ahead of the worker's clock a source's clock may run before it is not believed (S3's own tolerance)."""


AUTH_TYPES = ("header", "basic", "query")


def client_from_config(config: Mapping[str, Any], context: SourceContext) -> HttpClient:
    """`base_url`, optional `auth` (its secret an SSM SecureString), `rate_limit` and `retry`.

    auth: `{"type": "header", "header": "Authorization", "prefix": "token ", "secret_parameter": ...}`
    (the default type; a bearer token is the header `Authorization` with the prefix `Bearer `),
    `{"type": "basic", ...}` (the secret is `user:password`), or `{"type": "query", "param": "api_key", ...}`.
    rate_limit: `{"requests_per_second": 5}`. retry: `{"max_attempts": 8, "backoff_seconds": 0.1,
    "max_backoff_seconds": 20}`.
    """
    base_url = require_str(config, "base_url")
    headers: dict[str, str] = {}
    secret_params: dict[str, str] = {}
    credentials = None
    forget: Callable[[], None] | None = None
    if "auth" in config:
        auth = require_mapping(config, "auth")
        kind = auth.get("type", "header")
        if kind not in AUTH_TYPES:
            raise EventError("source.auth.type", f"must be one of {', '.join(AUTH_TYPES)}; got {kind!r}")
        parameter = require_str(auth, "secret_parameter", where="source.auth")
        if kind == "query":
            param = require_str(auth, "param", where="source.auth")
            secret_params[param] = _secret(context, parameter)
            sent_as = f"the query parameter {param}"
        elif kind == "basic":
            token = base64.b64encode(_secret(context, parameter).encode()).decode()
            headers["Authorization"] = f"Basic {token}"
            sent_as = "HTTP basic auth"
        else:
            header = require_str(auth, "header", where="source.auth")
            prefix = optional_str(auth, "prefix", "", where="source.auth") or ""
            headers[header] = prefix + _secret(context, parameter)
            sent_as = header
        credentials = f"the SSM parameter {parameter} (sent as {sent_as})"
        forget = partial(context.secrets.forget, parameter)
    retry = require_mapping(config, "retry", {})
    rate = require_mapping(config, "rate_limit", {})
    return HttpClient(
        base_url,
        headers,
        context.remaining_seconds,
        max_attempts=require_int(retry, "max_attempts", 8, 1, 50, where="source.retry"),
        backoff_base=require_number(retry, "backoff_seconds", 0.1, 0.0, 60.0, where="source.retry"),
        backoff_max=require_number(retry, "max_backoff_seconds", 20.0, 0.0, 600.0, where="source.retry"),
        credentials=credentials,
        on_rejected=forget,
        secret_params=secret_params,
        requests_per_second=require_number(rate, "requests_per_second", 0.0, 0.0, 10_000.0, where="source.rate_limit")
        or None,
    )


def _secret(context: SourceContext, parameter: str) -> str:
    """The API key; an absent parameter is named (boto3's own error would not say what it is for)."""
    try:
        value: str = context.secrets.get(parameter)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ParameterNotFound":
            raise
        raise SourceError(
            f"source.auth.secret_parameter {parameter!r} is not in Parameter Store, so there is no API key to send: "
            "put the vendor's key there as a SecureString"
        ) from exc
    return value


class Window:
    """When nothing more can come for a partition, so a later run need not call the source.

    `window_closes_at` (ISO-8601) in the source config: closed once the source is exhausted and
    the source's own clock (its Date header) has passed that time. Absent: closed as soon as the
    source is exhausted (a past day's prices). `"never"`: an open feed, always asked again.
    A source clock more than `CLOCK_SKEW` ahead of the worker's is not believed.
    """

    def __init__(self, config: Mapping[str, Any]):
        value = optional_str(config, "window_closes_at")
        self._never = value == "never"
        self._closes_at: datetime | None = None
        if value and not self._never:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError as exc:
                raise EventError("source.window_closes_at", f"is not ISO-8601 or 'never': {value!r}") from exc
            self._closes_at = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def closed(self, exhausted: bool, response: HttpResponse) -> bool:
        """Whether nothing more can come; a `SourceError` when only a source clock far ahead says so.

        A closed window is never asked again, so a Date header wrongly in the future would
        silently skip whatever the source publishes later: it is refused, naming the header,
        unless the worker's own clock agrees that the window has closed.
        """
        if not exhausted or self._never:
            return False
        if self._closes_at is None:
            return True
        ours = datetime.now(UTC)
        date = response.headers.get("date")
        if not date:
            return ours >= self._closes_at
        try:
            source_now = email.utils.parsedate_to_datetime(date)
        except (TypeError, ValueError) as exc:
            raise SourceError(f"{response.url}: the Date header {date!r} is not an HTTP date") from exc
        source_now = source_now if source_now.tzinfo else source_now.replace(tzinfo=UTC)
        if source_now < self._closes_at:
            return False
        ahead = timedelta(seconds=round((source_now - ours).total_seconds()))
        if ours < self._closes_at and ahead > CLOCK_SKEW:
            raise SourceError(
                f"{response.url}: the source's clock (Date: {date}) is {ahead} ahead of this worker's "
                f"({ours:%Y-%m-%dT%H:%M:%SZ}); the window closing at {self._closes_at.isoformat()} is not closed "
                "on its word, since a closed window is never asked again"
            )
        return True
