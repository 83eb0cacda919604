"""What the HTTP sources share: the authenticated client, and when a partition's window closes."""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from lambda_workers.exceptions import EventError, SourceError
from lambda_workers.sources.base import SourceContext
from lambda_workers.sources.config import optional_str, require_mapping, require_str
from lambda_workers.sources.http import HttpClient, HttpResponse

__all__ = ["CLOCK_SKEW", "Window", "client_from_config"]

CLOCK_SKEW = timedelta(minutes=15)
"""How far ahead of the worker's clock a source's clock may run before it is not believed (S3's own tolerance)."""


def client_from_config(config: Mapping[str, Any], context: SourceContext) -> HttpClient:
    """`base_url` plus optional `auth: {header, secret_parameter}` (an SSM SecureString name)."""
    base_url = require_str(config, "base_url")
    headers: dict[str, str] = {}
    credentials = None
    forget: Callable[[], None] | None = None
    if "auth" in config:
        auth = require_mapping(config, "auth")
        header = require_str(auth, "header", where="source.auth")
        parameter = require_str(auth, "secret_parameter", where="source.auth")
        headers[header] = _secret(context, parameter)
        credentials = f"the SSM parameter {parameter} (sent as {header})"
        forget = partial(context.secrets.forget, parameter)
    return HttpClient(base_url, headers, context.remaining_seconds, credentials=credentials, on_rejected=forget)


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
