"""The HTTP side: a stdlib ThreadingHTTPServer speaking HTTP/1.1 keep-alive, bound to one host.

Every response leaves in a single `sendall` of status line, headers and body, on a socket with
TCP_NODELAY: a handler that writes headers and body separately stalls ~40-90 ms per small
response on loopback (Nagle's algorithm meeting delayed ACK). A truncated response (the fault
knob) sends the full Content-Length but only part of the body, then closes the connection.
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from local_stack.vendor_api.api import Request, Response, VendorService, error_response
from local_stack.vendor_api.config import VendorConfig

__all__ = ["VendorApi"]

logger = logging.getLogger(__name__)

_MAX_BODY = 1 << 20
_SECRET_PARAMS = ("key", "secret", "password")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    service: VendorService

    def get_request(self) -> tuple[socket.socket, object]:
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "BatonVendorAPI/1.0"
    server: _Server
    # An idle keep-alive connection is dropped after this many seconds.
    timeout = 120

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: `_serve` logs each request once, with its duration and without secrets."""

    def log_message(self, format: str, *args: object) -> None:
        logger.warning("%s %s", self.address_string(), format % args)

    def _serve(self) -> None:
        started = time.perf_counter()
        split = urlsplit(self.path)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY:
            self._send(error_response(413, f"Content-Length must be a number of bytes up to {_MAX_BODY}"))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            host=self.headers.get("Host", ""),
        )
        try:
            response = self.server.service.handle(request)
        except Exception:
            logger.exception("unhandled error on %s %s", self.command, split.path)
            response = error_response(500, "internal error")
        self._send(response)
        logger.info(
            "%s %s %d %d bytes %.1f ms%s",
            self.command,
            _loggable(split.path, split.query),
            response.status,
            len(response.body),
            (time.perf_counter() - started) * 1000,
            " (truncated)" if response.truncate else "",
        )

    def _send(self, response: Response) -> None:
        reason = HTTPStatus(response.status).phrase
        lines = [
            f"HTTP/1.1 {response.status} {reason}",
            f"Server: {self.server_version}",
            # The vendor's own clock, so clients can tell whether a day's data is final.
            f"Date: {email.utils.format_datetime(self.server.service.market.config.clock(), usegmt=True)}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
        ]
        lines.extend(f"{name}: {value}" for name, value in response.headers)
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        body = response.body[: len(response.body) // 2] if response.truncate else response.body
        self.wfile.write(head + body)
        if response.truncate:
            self.close_connection = True


def _loggable(path: str, query: str) -> str:
    """The request target for the log, with any secret-looking parameter masked."""
    if not query:
        return path
    parts = [
        f"{name}=***" if any(word in name.lower() for word in _SECRET_PARAMS) else f"{name}={value}"
        for name, value in parse_qsl(query, keep_blank_values=True)
    ]
    return f"{path}?{'&'.join(parts)}"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class VendorApi:
    """The vendor API server: `start()` serves in a background thread until `stop()`."""

    def __init__(self, host: str, port: int, api_key: str, state_dir: Path, config: VendorConfig | None = None) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.service = VendorService(api_key, state_dir, config or VendorConfig())
        self._server = _Server((host, port), _Handler, bind_and_activate=True)
        self._server.service = self.service
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> VendorApi:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="vendor-api", daemon=True
        )
        self._thread.start()
        logger.info("vendor API listening on %s", self.url)
        if not _is_loopback(str(self._server.server_address[0])):
            logger.warning("bound to a non-loopback address: the /admin endpoints take no API key")
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        logger.info("vendor API stopped")
