"""A second vendor for tests: a trades API on a loopback port, with its own auth, pagination and faults.

It is not Baton's vendor: token auth in a header of its own choosing (or bearer, basic, or a
query parameter), pages linked by a `Link` header, by a `next` URL in the body or by offsets,
epoch-second timestamps, and deterministic 500s and 429s, so a declaration, not code, has to fit it.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = ["TradesApi", "running_trades_api", "trades_of"]

SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOG")


def trades_of(day: str, count: int) -> list[dict[str, object]]:
    """The day's trades, the same on every call: ids, symbols, prices, quantities, epoch seconds."""
    start = int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()) + 13 * 3600 + 1800
    return [
        {
            "trade_id": f"{day.replace('-', '')}-{n:07d}",
            "symbol": SYMBOLS[n % len(SYMBOLS)],
            "price": round(100 + (n * 7919 % 10_000) / 100, 2),
            "quantity": 1 + n * 31 % 500,
            "ts": start + n // 10,
        }
        for n in range(count)
    ]


class TradesApi:
    def __init__(
        self, token: str, trades: int = 1000, auth: str = "header", style: str = "link", faults: bool = True
    ) -> None:
        self.token, self.trades, self.auth, self.style, self.faults = token, trades, auth, style, faults
        self.requests: list[tuple[float, str]] = []  # (monotonic time, path with query) of every request
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> TradesApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def authorised(self, headers: dict[str, str], query: dict[str, list[str]]) -> bool:
        expected = {
            "header": ("authorization", f"token {self.token}"),
            "bearer": ("authorization", f"Bearer {self.token}"),
            "basic": ("authorization", "Basic " + base64.b64encode(self.token.encode()).decode()),
        }
        if self.auth == "query":
            return query.get("api_key") == [self.token]
        header, value = expected[self.auth]
        return headers.get(header) == value

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                with api._lock:
                    api.requests.append((time.monotonic(), self.path))
                    number = len(api.requests)
                headers = {k.lower(): v for k, v in self.headers.items()}
                if parts.path != "/trades":
                    return self._send(404, {"error": f"no such path {parts.path}"})
                if not api.authorised(headers, query):
                    return self._send(401, {"error": "bad token"})
                if api.faults and number % 7 == 3:
                    return self._send(500, {"error": "the trades database is busy"})
                if api.faults and number % 11 == 5:
                    return self._send(429, {"error": "slow down"}, {"Retry-After": "0"})
                day = query.get("day", ["2025-06-02"])[0]
                limit = int(query.get("limit", ["100"])[0])
                after = int(query.get("offset" if api.style == "offset" else "after", ["0"])[0])
                if api.style == "offset":
                    return self._send(
                        200, {"data": trades_of(day, api.trades)[after : after + limit], "total": api.trades}
                    )
                rows = trades_of(day, api.trades)[after : after + limit]
                following = after + len(rows)
                next_query = {k: v[0] for k, v in query.items() if k != "api_key"} | {"after": str(following)}
                next_url = f"{api.url}/trades?{urlencode(next_query)}" if following < api.trades else None
                if api.style == "link":
                    links = {"Link": f'<{next_url}>; rel="next"'} if next_url else {}
                    return self._send(200, rows, links)
                return self._send(200, {"data": rows, "next": next_url})

            def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

        return Handler


@contextmanager
def running_trades_api(token: str, **options: object) -> Iterator[TradesApi]:
    api = TradesApi(token, **options).start()  # type: ignore[arg-type]
    try:
        yield api
    finally:
        api.stop()
