"""What the HTTP sources share: the authenticated client, and when a partition's window closes."""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lambda_workers.exceptions import EventError
from lambda_workers.sources.base import SourceContext
from lambda_workers.sources.config import optional_str, require_mapping, require_str
from lambda_workers.sources.http import HttpClient, HttpResponse

__all__ = ["Window", "client_from_config"]


def client_from_config(config: Mapping[str, Any], context: SourceContext) -> HttpClient:
    """`base_url` plus optional `auth: {header, secret_parameter}` (an SSM SecureString name)."""
    base_url = require_str(config, "base_url")
    headers: dict[str, str] = {}
    if "auth" in config:
        auth = require_mapping(config, "auth")
        header = require_str(auth, "header", where="source.auth")
        parameter = require_str(auth, "secret_parameter", where="source.auth")
        headers[header] = context.secrets.get(parameter)
    return HttpClient(base_url, headers, context.remaining_seconds)


class Window:
    """When nothing more can come for a partition, so a later run need not call the source.

    `window_closes_at` (ISO-8601) in the source config: closed once the source is exhausted and
    the source's own clock (its Date header) has passed that time. Absent: closed as soon as the
    source is exhausted (a past day's prices). `"never"`: an open feed, always asked again.
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
        if not exhausted or self._never:
            return False
        if self._closes_at is None:
            return True
        date = response.headers.get("date")
        source_now = email.utils.parsedate_to_datetime(date) if date else datetime.now(UTC)
        return source_now >= self._closes_at
