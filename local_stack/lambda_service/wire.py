"""HTTP plumbing shared by the public API and the per-environment Runtime APIs.

Both are small request/response services on loopback, where a stdlib handler that writes the
headers and the body separately stalls ~40-90 ms per response (Nagle's algorithm meeting delayed
ACK, see FACTS.md). Every socket here sets TCP_NODELAY and every response leaves in one write.
Connections stay open (HTTP/1.1 keep-alive): boto3's pool and awslambdaric's curl reuse them.
"""

from __future__ import annotations

import logging
import socket
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

__all__ = ["FastHandler", "FastServer"]

logger = logging.getLogger(__name__)

_REASONS = {status.value: status.phrase for status in HTTPStatus}


class FastServer(ThreadingHTTPServer):
    """A threading HTTP server whose connection threads never keep the process alive."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class FastHandler(BaseHTTPRequestHandler):
    """Keep-alive handler that answers each request with a single `sendall`."""

    protocol_version = "HTTP/1.1"
    server_version = "baton-lambda"
    sys_version = ""
    #: A connection idle this long is closed, so threads of vanished clients do not pile up.
    timeout: ClassVar[float | None] = 300.0

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def read_body(self, limit: int | None = None) -> bytes | None:
        """The request body; None (and the connection marked for closing) when it exceeds `limit`."""
        length = int(self.headers.get("Content-Length") or 0)
        if limit is not None and length > limit:
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def reply(self, status: int, body: bytes = b"", headers: list[tuple[str, str]] | None = None) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, '')}"]
        lines.extend(f"{name}: {value}" for name, value in headers or ())
        lines.append(f"Content-Length: {len(body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head + body)
        except OSError as exc:
            logger.debug("client went away before the response was sent: %s", exc)
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)
