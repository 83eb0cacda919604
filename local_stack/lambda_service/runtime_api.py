"""The Lambda Runtime API (`/2018-06-01/runtime/...`) that one execution environment's awslambdaric polls.

Each environment gets its own listener on 127.0.0.1 (awslambdaric's `AWS_LAMBDA_RUNTIME_API` is a
bare host:port, so the port is what tells environments apart). `invocation/next` blocks until the
environment is handed an invocation and answers with the event and the Lambda-Runtime-* headers
from which awslambdaric builds the real context; `response`, `error` and `init/error` complete it.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import TYPE_CHECKING, cast

from local_stack.lambda_service.wire import FastHandler, FastServer

if TYPE_CHECKING:
    from local_stack.lambda_service.environments import ExecutionEnvironment

__all__ = ["MAX_RESPONSE_BYTES", "RuntimeApiServer"]

logger = logging.getLogger(__name__)

#: Lambda's limit on a synchronous response payload (6 MB plus 100 bytes, as AWS counts it).
MAX_RESPONSE_BYTES = 6_291_556
_PREFIX = "/2018-06-01/runtime"
_INVOCATION = re.compile(rf"^{_PREFIX}/invocation/(?P<request_id>[^/]+)/(?P<kind>response|error)$")
_ACCEPTED = b'{"status":"OK"}'
_JSON = [("Content-Type", "application/json")]


class RuntimeApiServer(FastServer):
    """One environment's Runtime API; runs on its own thread until `close()`."""

    def __init__(self, environment: ExecutionEnvironment):
        super().__init__(("127.0.0.1", 0), _RuntimeApiHandler)
        self.environment = environment
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.2}, name="runtime-api", daemon=True
        )

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        if self._thread.is_alive():
            self.shutdown()
        self.server_close()


class _RuntimeApiHandler(FastHandler):
    @property
    def environment(self) -> ExecutionEnvironment:
        return cast(RuntimeApiServer, self.server).environment

    def do_GET(self) -> None:
        if self.path != f"{_PREFIX}/invocation/next":
            self.reply(404, b'{"errorMessage":"not found","errorType":"InvalidRequest"}', _JSON)
            return
        invocation = self.environment.next_invocation()
        if invocation is None:  # the environment is shutting down: let the connection drop
            self.close_connection = True
            return
        headers = [
            ("Content-Type", "application/json"),
            ("Lambda-Runtime-Aws-Request-Id", invocation.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(invocation.deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", invocation.function_arn),
            ("Lambda-Runtime-Trace-Id", invocation.trace_header),
        ]
        if invocation.client_context:
            headers.append(("Lambda-Runtime-Client-Context", invocation.client_context))
        self.reply(200, invocation.payload, headers)

    def do_POST(self) -> None:
        error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
        if self.path == f"{_PREFIX}/init/error":
            self.environment.init_failed(self.read_body() or b"", error_type)
            self.reply(202, _ACCEPTED, _JSON)
            return
        match = _INVOCATION.match(self.path)
        if match is None:
            self.reply(404, b'{"errorMessage":"not found","errorType":"InvalidRequest"}', _JSON)
            return
        request_id = match["request_id"]
        if match["kind"] == "response":
            body = self._read_limited()
            known = self.environment.invocation_succeeded(request_id, body)
        else:
            known = self.environment.invocation_failed(request_id, self.read_body() or b"", error_type)
        if known:
            self.reply(202, _ACCEPTED, _JSON)
        else:
            self.reply(400, b'{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}', _JSON)

    def _read_limited(self) -> bytes | None:
        """The response body, or None when it is over Lambda's limit (read and dropped to keep the connection)."""
        length = int(self.headers.get("Content-Length") or 0)
        if length <= MAX_RESPONSE_BYTES:
            return self.rfile.read(length) if length else b""
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
        return None
