"""Paginated JSON REST APIs: offset/limit, page number, next token, next URL in the body, or Link header.

Config (the event's `source`):

    {"kind": "json_rest", "base_url": "http://vendor", "path": "/v1/prices",
     "params": {"from": "2024-01-02", "to": "2024-01-02"},
     "records": "data",                       # dotted path to the list; "" when the body is the list
     "pagination": {"style": "offset", "limit": 10000,
                    "limit_param": "limit", "offset_param": "offset", "total_field": "total",
                    "page_param": "page", "total_pages_field": "total_pages",
                    "token_param": "next_token", "token_field": "next_token",
                    "next_url_field": "next"},          # dotted path to the next page's URL
     "incremental": {"field": "seq", "param": "after"},   # optional high-water mark
     "auth": {"type": "header", "header": "X-Api-Key", "prefix": "", "secret_parameter": "/baton/prod/secrets/markets"},
     "window_closes_at": "2024-01-02T21:00:00Z"}

With `incremental`, the cursor carries the highest `field` value seen; the next run of the same
asset and partition sends it as `param` and so fetches only what is new.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from lambda_workers.exceptions import EventError, SourceError
from lambda_workers.sources.base import Delivered, Page, Source, SourceContext, records_at
from lambda_workers.sources.config import optional_str, require_int, require_mapping, require_str
from lambda_workers.sources.http import HttpClient, HttpResponse
from lambda_workers.sources.vendor_http import Window, client_from_config

__all__ = ["JsonRestSource"]

STYLES = ("offset", "page", "token", "next_url", "link")
MAX_CURSOR_TEXT = 2048
"""Bytes (as JSON) a next token or next URL may take in the cursor: half of the 4 KB cursor record,
whose other fields take at most about 1.7 KB. A longer one could never be committed."""
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class JsonRestSource(Source):
    kind = "json_rest"

    def __init__(self, client: HttpClient, config: Mapping[str, Any]):
        self._client = client
        self._path = require_str(config, "path")
        self._params = require_mapping(config, "params", {})
        self._records = optional_str(config, "records", "data") or ""
        pagination = require_mapping(config, "pagination")
        self._style = pagination.get("style")
        if self._style not in STYLES:
            raise EventError("source.pagination.style", f"must be one of {', '.join(STYLES)}; got {self._style!r}")
        where = "source.pagination"
        self._limit = require_int(pagination, "limit", 1000, 1, 1_000_000, where=where)
        self._limit_param = optional_str(pagination, "limit_param", "limit", where=where)
        self._offset_param = optional_str(pagination, "offset_param", "offset", where=where)
        self._total_field = optional_str(pagination, "total_field", "total", where=where)
        self._page_param = optional_str(pagination, "page_param", "page", where=where)
        self._total_pages_field = optional_str(pagination, "total_pages_field", "total_pages", where=where)
        self._token_param = optional_str(pagination, "token_param", "next_token", where=where)
        self._token_field = optional_str(pagination, "token_field", "next_token", where=where)
        self._next_url_field = optional_str(pagination, "next_url_field", "next", where=where) or "next"
        self._incremental: dict[str, Any] | None = None
        if "incremental" in config:
            self._incremental = require_mapping(config, "incremental")
            require_str(self._incremental, "field", where="source.incremental")
            require_str(self._incremental, "param", where="source.incremental")
        self._window = Window(config)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], context: SourceContext) -> JsonRestSource:
        return cls(client_from_config(config, context), config)

    def initial_cursor(self) -> dict[str, Any]:
        return {"offset": 0} if self._style == "offset" else {"page": 1} if self._style == "page" else {}

    def resume_cursor(self, high_water: Mapping[str, Any]) -> dict[str, Any]:
        """Start over from the first page, but only past the previous chain's high-water mark."""
        cursor = self.initial_cursor()
        if self._incremental is not None and high_water.get("high_water") is not None:
            cursor["since"] = cursor["high_water"] = high_water["high_water"]
        return cursor

    def fetch(self, cursor: Mapping[str, Any]) -> Page:
        params = dict(self._params)
        if self._incremental is not None and cursor.get("since") is not None:
            params[self._incremental["param"]] = cursor["since"]
        if self._style in ("link", "next_url") and cursor.get("url"):
            response = self._client.get(cursor["url"])
        else:
            params.update(self._page_params(cursor))
            response = self._client.get(self._path, params)
            self._prefetch_next(cursor, params)
        body = response.json()
        records = self._extract(body, response)
        next_cursor, exhausted, total = self._advance(cursor, body, records, response)
        if self._incremental is not None:
            field = self._incremental["field"]
            seen = [r[field] for r in records if r.get(field) is not None]
            high_water = max([*seen, cursor["high_water"]] if cursor.get("high_water") is not None else seen or [None])
            next_cursor["high_water"] = high_water
            if cursor.get("since") is not None:
                next_cursor["since"] = cursor["since"]
        window_closed = self._window.closed(exhausted, response)
        delivered = Delivered(response.body, self._records)
        return Page(records, next_cursor, exhausted, window_closed, total, delivered=delivered)

    def _prefetch_next(self, cursor: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        """Ask for the page after this one before parsing this one, where its position is known already.

        With offsets and page numbers it is (a full page moves the offset by the limit; a short
        one ends the chain, and the prefetched page goes unused). Tokens and next URLs are only
        known from the body.
        """
        if self._style == "offset":
            self._client.prefetch(self._path, {**params, self._offset_param: cursor["offset"] + self._limit})
        elif self._style == "page":
            self._client.prefetch(self._path, {**params, self._page_param: cursor["page"] + 1})

    def _page_params(self, cursor: Mapping[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {self._limit_param: self._limit}
        if self._style == "offset":
            params[self._offset_param] = cursor["offset"]
        elif self._style == "page":
            params[self._page_param] = cursor["page"]
        elif self._style == "token" and cursor.get("token"):
            params[self._token_param] = cursor["token"]
        return params

    def _advance(
        self, cursor: Mapping[str, Any], body: Any, records: list[dict[str, Any]], response: HttpResponse
    ) -> tuple[dict[str, Any], bool, int | None]:
        total = body.get(self._total_field) if isinstance(body, dict) else None
        if self._style == "offset":
            offset = cursor["offset"] + len(records)
            exhausted = len(records) < self._limit or (isinstance(total, int) and offset >= total)
            return {"offset": offset}, exhausted, total
        if self._style == "page":
            pages = body.get(self._total_pages_field) if isinstance(body, dict) else None
            exhausted = not records or (isinstance(pages, int) and cursor["page"] >= pages)
            return {"page": cursor["page"] + 1}, exhausted, total
        if self._style == "token":
            token = body.get(self._token_field) if isinstance(body, dict) else None
            if token:
                _check_fits_cursor(token, f"next token {self._token_field!r}", response)
            return ({"token": token} if token else {}), not token, total
        if self._style == "next_url":
            url = _dotted(body, self._next_url_field)
            if url is not None and not isinstance(url, str):
                raise SourceError(f"{response.url}: the next URL {self._next_url_field!r} is not a string: {url!r}")
            if url:
                _check_fits_cursor(url, "next URL", response)
            return ({"url": url} if url else {}), not url, total
        match = _LINK_NEXT.search(response.headers.get("link", ""))
        if match:
            _check_fits_cursor(match.group(1), "next URL", response)
        return ({"url": match.group(1)} if match else {}), match is None, total

    def _extract(self, body: Any, response: HttpResponse) -> list[dict[str, Any]]:
        try:
            value = records_at(body, self._records)
        except KeyError:
            raise SourceError(f"{response.url}: the body has no {self._records!r} list") from None
        if not isinstance(value, list) or not set(map(type, value)) <= {dict}:
            raise SourceError(f"{response.url}: {self._records or 'the body'!r} is not a list of objects")
        return value


def _dotted(body: Any, path: str) -> Any:
    """The value at a dotted path of the body, None where the path ends early."""
    try:
        return records_at(body, path)
    except KeyError:
        return None


def _check_fits_cursor(value: Any, what: str, response: HttpResponse) -> None:
    """A `SourceError` if `value` cannot go in the cursor: raised before the page is written, not at the commit."""
    size = len(json.dumps(value).encode())
    if size > MAX_CURSOR_TEXT:
        raise SourceError(
            f"{response.url}: the {what} of the next page is {size} bytes, over the {MAX_CURSOR_TEXT} a cursor "
            "may hold (its record in Parameter Store is 4 KB at most), so no link could commit past this page"
        )
