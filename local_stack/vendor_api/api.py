"""The vendor API's endpoints, independent of the HTTP plumbing: a `Request` in, a `Response` out.

`VendorService` holds the current `Market` (swapped whole when the configuration changes), the
job store, the fault injector and the request counters. See the package docstring for the
endpoint reference.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple
from xml.sax.saxutils import escape

from local_stack.vendor_api.business_days import date_of_bday, first_bday_on_or_after, last_bday_on_or_before
from local_stack.vendor_api.config import VendorConfig, parse_date
from local_stack.vendor_api.exceptions import ApiError, BadRequest, ConfigError, Conflict
from local_stack.vendor_api.faults import FaultInjector, RequestStats
from local_stack.vendor_api.feeds import FORMATS, feed_actions, render_feed
from local_stack.vendor_api.fx import CURRENCIES, decode_token, encode_token
from local_stack.vendor_api.index_constituents import constituents_csv
from local_stack.vendor_api.intraday import IntradayDay
from local_stack.vendor_api.jobs import JobStore
from local_stack.vendor_api.market import Market
from local_stack.vendor_api.params import optional_str, query_date, query_int

__all__ = ["Request", "Response", "VendorService"]

logger = logging.getLogger(__name__)

JSON = "application/json"
PRICES_LIMIT = (1000, 50_000)
FX_LIMIT = (1000, 10_000)
INTRADAY_LIMIT = (1000, 10_000)
INSTRUMENTS_PAGE_SIZE = (500, 5000)
JOB_KINDS = ("index_constituents",)
_INSTRUMENT_FIELDS = ("symbol", "isin", "name", "exchange", "currency", "sector", "listed_on")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = b""
    host: str = ""


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)
    truncate: bool = False


def json_response(payload: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, json.dumps(payload, separators=(",", ":")).encode(), JSON, headers or [])


def error_response(status: int, message: str, headers: list[tuple[str, str]] | None = None) -> Response:
    return json_response({"error": message}, status, headers)


Handler = Callable[["VendorService", Request, re.Match[str]], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    name: str
    handler: Handler


class VendorService:
    """All endpoints over one state folder, with the API key every /v1 request must present."""

    def __init__(self, api_key: str, state_dir: Path, config: VendorConfig) -> None:
        if not api_key:
            raise ConfigError("an API key is required")
        self._api_key = api_key.encode()
        self._market_lock = threading.Lock()
        self._market = Market(config)
        self.jobs = JobStore(state_dir)
        self.faults = FaultInjector()
        self.stats = RequestStats()

    @property
    def market(self) -> Market:
        """The current market; rebuilt when a real-time clock outruns its precomputed horizon."""
        market = self._market
        if not market.covers(market.config.clock()):
            with self._market_lock:
                if not self._market.covers(self._market.config.clock()):
                    self._market = Market(self._market.config)
                market = self._market
        return market

    def reconfigure(self, changes: Mapping[str, Any]) -> VendorConfig:
        with self._market_lock:
            config = self._market.config.updated(changes)
            self._market = Market(config)
        logger.info("reconfigured: %s", config.to_json())
        return config

    def handle(self, request: Request) -> Response:
        """Route a request; /v1 requests pass the key check, the counters and the fault knobs."""
        resolved = _resolve(request)
        if request.path.startswith("/v1/"):
            self.stats.request(resolved.route.name if resolved.route else "unknown")
            response = self._handle_v1(request, resolved)
            self.stats.answered(response.status)
            return response
        return self._dispatch(request, resolved)

    def _handle_v1(self, request: Request, resolved: Resolved) -> Response:
        presented = request.headers.get("x-api-key", "")
        if not hmac.compare_digest(presented.encode(), self._api_key):
            reason = "missing X-Api-Key header" if not presented else "invalid API key"
            return error_response(401, reason, [("WWW-Authenticate", 'ApiKey header="X-Api-Key"')])
        decision = self.faults.decide()
        if decision.latency_s > 0:
            self.stats.fault("latency")
            time.sleep(decision.latency_s)
        if decision.status == 429:
            self.stats.fault("429")
            retry = str(decision.retry_after_s)
            return error_response(429, f"rate limited: retry after {retry} s", [("Retry-After", retry)])
        if decision.status is not None:
            self.stats.fault(str(decision.status))
            return error_response(decision.status, f"injected fault on request {decision.ordinal}")
        response = self._dispatch(request, resolved)
        if decision.truncate:
            self.stats.fault("truncated")
            response.truncate = True
        return response

    def _dispatch(self, request: Request, resolved: Resolved) -> Response:
        route, match = resolved.route, resolved.match
        if route is None or match is None:
            if resolved.allowed:
                allowed = ", ".join(resolved.allowed)
                return error_response(405, f"{request.method} not allowed on {request.path}; use {allowed}")
            return error_response(404, f"no such endpoint: {request.path}")
        try:
            return route.handler(self, request, match)
        except ApiError as exc:
            return error_response(exc.status, exc.message)
        except ConfigError as exc:
            return error_response(400, str(exc))

    # --- /health and admin ---------------------------------------------------------------

    def health(self, request: Request, match: re.Match[str]) -> Response:
        return json_response({"status": "ok"})

    def get_knobs(self, request: Request, match: re.Match[str]) -> Response:
        return json_response(self.faults.snapshot())

    def post_knobs(self, request: Request, match: re.Match[str]) -> Response:
        self.faults.update(_json_object(request))
        return json_response(self.faults.snapshot())

    def reset(self, request: Request, match: re.Match[str]) -> Response:
        self.faults.reset()
        self.stats.reset()
        return json_response({"status": "reset"})

    def get_stats(self, request: Request, match: re.Match[str]) -> Response:
        return json_response(self.stats.snapshot())

    def get_config(self, request: Request, match: re.Match[str]) -> Response:
        return json_response(self.market.config.to_json())

    def post_config(self, request: Request, match: re.Match[str]) -> Response:
        return json_response(self.reconfigure(_json_object(request)).to_json())

    def drop_feeds(self, request: Request, match: re.Match[str]) -> Response:
        body = _json_object(request)
        bucket = body.get("bucket")
        if not isinstance(bucket, str) or not bucket:
            raise BadRequest("bucket: required, a bucket name")
        prefix = body.get("prefix", "landing/corporate_actions/")
        if not isinstance(prefix, str):
            raise BadRequest("prefix: must be a string")
        fmt = body.get("format", "csv")
        if fmt not in FORMATS:
            raise BadRequest(f"format: must be one of {', '.join(FORMATS)}, got {fmt!r}")
        first, last = _date_range({k: body.get(k) for k in ("from", "to")})
        # boto3 costs ~0.25 s to import and only this endpoint needs it.
        from local_stack.vendor_api.feed_drop import drop_feeds

        market = self.market
        return json_response(drop_feeds(market, market.config.clock(), bucket, prefix, first, last, fmt))

    # --- /v1 --------------------------------------------------------------------------------

    def instruments_xml(self, request: Request, match: re.Match[str]) -> Response:
        page = query_int(request.query, "page", 1, 1)
        page_size = query_int(request.query, "page_size", INSTRUMENTS_PAGE_SIZE[0], 1, INSTRUMENTS_PAGE_SIZE[1])
        instruments = self.market.universe.instruments
        total = len(instruments)
        total_pages = math.ceil(total / page_size)
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<instruments page="{page}" page_size="{page_size}" total_pages="{total_pages}" total="{total}">'
        ]
        for inst in instruments[(page - 1) * page_size : page * page_size]:
            values = (
                inst.symbol,
                inst.isin,
                inst.name,
                inst.exchange,
                inst.currency,
                inst.sector,
                inst.listed_on.isoformat(),
            )
            fields = "".join(
                f"<{name}>{escape(value)}</{name}>" for name, value in zip(_INSTRUMENT_FIELDS, values, strict=True)
            )
            parts.append(f"<instrument>{fields}</instrument>")
        parts.append("</instruments>\n")
        return Response(200, "\n".join(parts).encode(), "application/xml; charset=utf-8")

    def prices(self, request: Request, match: re.Match[str]) -> Response:
        first, last = _date_range(request.query)
        offset = query_int(request.query, "offset", 0, 0)
        limit = query_int(request.query, "limit", PRICES_LIMIT[0], 1, PRICES_LIMIT[1])
        symbol_from = optional_str(request.query, "symbol_from")
        symbol_to = optional_str(request.query, "symbol_to")
        if symbol_from is not None and symbol_to is not None and symbol_from > symbol_to:
            raise BadRequest(f"symbol_from: {symbol_from!r} sorts after symbol_to {symbol_to!r}")
        market = self.market
        low, high = self._published_days(market, first, last)
        symbols = market.universe.index_range(symbol_from, symbol_to)
        total = max(0, high - low + 1) * len(symbols)
        rows = market.prices.rows_json(low, symbols, min(offset, total), min(offset + limit, total))
        head = f'{{"from":"{first}","to":"{last}","offset":{offset},"limit":{limit},"total":{total},"data":['
        return Response(200, (head + ",".join(rows) + "]}").encode())

    def fx(self, request: Request, match: re.Match[str]) -> Response:
        first, last = _date_range(request.query)
        limit = query_int(request.query, "limit", FX_LIMIT[0], 1, FX_LIMIT[1])
        market = self.market
        width = len(CURRENCIES)
        low, high = self._published_days(market, first, last)
        start, end = low * width, (high + 1) * width
        token = optional_str(request.query, "next_token")
        if token is not None:
            position = decode_token(token, first, last)
            if not first_bday_on_or_after(first) * width <= position <= (last_bday_on_or_before(last) + 1) * width:
                raise BadRequest(f"next_token: unknown token {token!r}")
            start = max(start, position)
        stop = min(start + limit, end) if end > start else start
        next_token = encode_token(first, last, stop) if stop < end else None
        return json_response(
            {"from": str(first), "to": str(last), "data": market.fx.rows(start, stop), "next_token": next_token}
        )

    def intraday(self, request: Request, match: re.Match[str]) -> Response:
        day = query_date(request.query, "date")
        after = query_int(request.query, "after", 0, 0)
        limit = query_int(request.query, "limit", INTRADAY_LIMIT[0], 1, INTRADAY_LIMIT[1])
        market = self.market
        count = market.config.intraday_count if day >= market.config.start_date else 0
        session = IntradayDay(day, count, market.config.clock())
        rows = session.bars_json(market.prices, market.config.seed, market.universe.symbols, after, limit)
        headers: list[tuple[str, str]] = []
        last_seq = after + len(rows)
        if last_seq < session.published:
            host = request.host or "127.0.0.1"
            link = f"http://{host}/v1/intraday?date={day}&after={last_seq}&limit={limit}"
            headers.append(("Link", f'<{link}>; rel="next"'))
        return Response(200, ("[" + ",".join(rows) + "]").encode(), JSON, headers)

    def corporate_actions_feed(self, request: Request, match: re.Match[str]) -> Response:
        try:
            day = parse_date(match["date"])
        except ValueError as exc:
            raise BadRequest(f"date: {match['date']!r} is not a date (expected YYYY-MM-DD)") from exc
        market = self.market
        body, content_type = render_feed(day, feed_actions(market, day, market.config.clock()), match["format"])
        return Response(200, body, content_type)

    def create_job(self, request: Request, match: re.Match[str]) -> Response:
        body = _json_object(request)
        kind = body.get("kind")
        if kind not in JOB_KINDS:
            raise BadRequest(f"kind: must be one of {', '.join(JOB_KINDS)}, got {kind!r}")
        params = body.get("params")
        if not isinstance(params, dict):
            raise BadRequest("params: required, an object with as_of")
        as_of_text = params.get("as_of")
        try:
            as_of = parse_date(as_of_text)
        except (TypeError, ValueError) as exc:
            raise BadRequest(f"params.as_of: {as_of_text!r} is not a date (expected YYYY-MM-DD)") from exc
        market = self.market
        error = None
        last = market.last_published_day()
        if as_of < market.config.start_date:
            error = f"as_of {as_of} is before the vendor's history, which starts on {market.config.start_date}"
        elif last_bday_on_or_before(as_of) > last:
            error = f"as_of {as_of} is after the vendor's last published business day {date_of_bday(last)}"
        job = self.jobs.create(kind, {"as_of": as_of.isoformat()}, market.config.job_seconds, error)
        logger.info("job %s created: %s as_of %s", job.job_id, kind, as_of)
        return json_response({"job_id": job.job_id, "status": "queued"}, 202, [("Location", f"/v1/jobs/{job.job_id}")])

    def job_status(self, request: Request, match: re.Match[str]) -> Response:
        return json_response(self.jobs.get(match["job_id"]).status(time.time()))

    def job_result(self, request: Request, match: re.Match[str]) -> Response:
        job = self.jobs.get(match["job_id"])
        status = job.status(time.time())
        if status["status"] != "succeeded":
            raise Conflict(f"job {job.job_id} is {status['status']}: its result is available once it has succeeded")
        as_of = parse_date(job.params["as_of"])
        return Response(200, constituents_csv(self.market, last_bday_on_or_before(as_of)), "text/csv; charset=utf-8")

    @staticmethod
    def _published_days(market: Market, first: date, last: date) -> tuple[int, int]:
        """The business-day indices of [first, last] that are in the history and already published."""
        low = max(first_bday_on_or_after(first), market.first_day)
        high = min(last_bday_on_or_before(last), market.last_published_day())
        return low, high


def _date_range(values: Mapping[str, Any]) -> tuple[date, date]:
    first = query_date(values, "from")
    last = query_date(values, "to")
    if first > last:
        raise BadRequest(f"from: {first} is after to: {last}")
    return first, last


def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError as exc:
        raise BadRequest(f"body: not valid JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise BadRequest("body: must be a JSON object")
    return body


class Resolved(NamedTuple):
    """The route a request matched, or the methods its path allows (empty for an unknown path)."""

    route: Route | None
    match: re.Match[str] | None
    allowed: tuple[str, ...]


def _resolve(request: Request) -> Resolved:
    allowed: list[str] = []
    for route in ROUTES:
        match = route.pattern.fullmatch(request.path)
        if match is None:
            continue
        if route.method == request.method:
            return Resolved(route, match, ())
        allowed.append(route.method)
    return Resolved(None, None, tuple(allowed))


def _route(method: str, pattern: str, name: str, handler: Handler) -> Route:
    return Route(method, re.compile(pattern), name, handler)


ROUTES: tuple[Route, ...] = (
    _route("GET", r"/health", "health", VendorService.health),
    _route("GET", r"/v1/instruments\.xml", "instruments", VendorService.instruments_xml),
    _route("GET", r"/v1/prices", "prices", VendorService.prices),
    _route("GET", r"/v1/fx", "fx", VendorService.fx),
    _route("GET", r"/v1/intraday", "intraday", VendorService.intraday),
    _route(
        "GET",
        r"/v1/feeds/corporate_actions/(?P<date>[^/]+)\.(?P<format>csv|xml)",
        "corporate_actions_feed",
        VendorService.corporate_actions_feed,
    ),
    _route("POST", r"/v1/jobs", "jobs.create", VendorService.create_job),
    _route("GET", r"/v1/jobs/(?P<job_id>[^/]+)", "jobs.status", VendorService.job_status),
    _route("GET", r"/v1/jobs/(?P<job_id>[^/]+)/result", "jobs.result", VendorService.job_result),
    _route("GET", r"/admin/knobs", "admin.knobs", VendorService.get_knobs),
    _route("POST", r"/admin/knobs", "admin.knobs", VendorService.post_knobs),
    _route("POST", r"/admin/reset", "admin.reset", VendorService.reset),
    _route("GET", r"/admin/stats", "admin.stats", VendorService.get_stats),
    _route("GET", r"/admin/config", "admin.config", VendorService.get_config),
    _route("POST", r"/admin/config", "admin.config", VendorService.post_config),
    _route("POST", r"/admin/feeds/drop", "admin.feeds_drop", VendorService.drop_feeds),
)
