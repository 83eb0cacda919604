"""Invocation logs as Lambda writes them, kept per request id and copied to CloudWatch Logs.

Each invocation's log is the runtime's output framed by Lambda's platform lines
(`START`, `END`, `REPORT` with Duration, Billed Duration, Memory Size, Max Memory Used and, on a
cold start, Init Duration). It is written to `logs/<request id>.log` under the state dir (served
at `GET /local/logs/<request id>`, a local extension), its last 4 KB go back with `LogType=Tail`,
and a background thread ships it to the log group `/aws/lambda/<name>` of the local CloudWatch
Logs (moto) when an endpoint for it is configured, so the caller never waits for that copy.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import math
import queue
import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CloudWatchShipper", "InvocationReport", "LogStore", "tail_base64", "timestamped"]

logger = logging.getLogger(__name__)

TAIL_BYTES = 4096
_MAX_BATCH_BYTES = 1_000_000
#: CloudWatch Logs takes events up to 256 KB; a character may take up to 4 bytes.
_MAX_EVENT_CHARS = 60_000
_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def timestamped(request_id: str, message: str) -> bytes:
    """A platform line in Lambda's text format: `<ISO time> <request id> <message>`."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    return f"{stamp} {request_id} {message}\n".encode()


@dataclass(frozen=True)
class InvocationReport:
    """What the REPORT line says about one invocation."""

    request_id: str
    duration_ms: float
    memory_size_mb: int
    max_memory_used_mb: int
    init_duration_ms: float | None = None
    status: str | None = None
    error_type: str | None = None

    def line(self) -> bytes:
        billed = math.ceil(self.duration_ms) + math.ceil(self.init_duration_ms or 0)
        parts = [
            f"REPORT RequestId: {self.request_id}",
            f"Duration: {self.duration_ms:.2f} ms",
            f"Billed Duration: {max(billed, 1)} ms",
            f"Memory Size: {self.memory_size_mb} MB",
            f"Max Memory Used: {self.max_memory_used_mb} MB",
        ]
        if self.init_duration_ms is not None:
            parts.append(f"Init Duration: {self.init_duration_ms:.2f} ms")
        if self.status:
            parts.append(f"Status: {self.status}")
        if self.error_type:
            parts.append(f"Error Type: {self.error_type}")
        return ("\t".join(parts) + "\t\n").encode()


def tail_base64(log: bytes) -> str:
    """The last 4 KB of a log, base64, starting on a character boundary so it always decodes as UTF-8."""
    tail = log[-TAIL_BYTES:]
    if len(log) > TAIL_BYTES:
        start = 0
        while start < len(tail) and tail[start] & 0xC0 == 0x80:
            start += 1
        tail = tail[start:]
    return base64.b64encode(tail).decode()


class LogStore:
    """Per-invocation log files under `<state dir>/logs`."""

    def __init__(self, state_dir: Path):
        self.root = state_dir / "logs"
        self.root.mkdir(parents=True, exist_ok=True)

    def write(self, request_id: str, log: bytes) -> None:
        """Append: the retries of an asynchronous event share its request id, as on Lambda."""
        with (self.root / f"{request_id}.log").open("ab") as file:
            file.write(log)

    def read(self, request_id: str) -> bytes | None:
        if not _REQUEST_ID.match(request_id):
            return None
        try:
            return (self.root / f"{request_id}.log").read_bytes()
        except FileNotFoundError:
            return None


def _batches(events: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """PutLogEvents-sized batches: at most 10,000 events and ~1 MB (26 bytes of overhead per event)."""
    batch: list[dict[str, Any]] = []
    size = 0
    for event in events:
        event_size = len(event["message"].encode()) + 26
        if batch and (len(batch) == 10_000 or size + event_size > _MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(event)
        size += event_size
    if batch:
        yield batch


class CloudWatchShipper:
    """Copies finished invocation logs to CloudWatch Logs in batches, off the invocation's path."""

    _BATCH_SECONDS = 0.25

    def __init__(self, environ: Mapping[str, str], region: str):
        self._endpoint = environ.get("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS") or environ.get("AWS_ENDPOINT_URL")
        self._region = region
        self._queue: queue.SimpleQueue[tuple[str, str, bytes, int] | None] = queue.SimpleQueue()
        self._created: set[tuple[str, str]] = set()
        self._thread: threading.Thread | None = None
        self._client: Any = None
        if not self._endpoint:
            logger.info("no local CloudWatch Logs endpoint configured: invocation logs stay in the state dir only")

    def start(self) -> None:
        if self._endpoint:
            self._thread = threading.Thread(target=self._run, name="cloudwatch-shipper", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def ship(self, group: str, stream: str, log: bytes) -> None:
        if self._thread is not None:
            self._queue.put((group, stream, log, int(time.time() * 1000)))

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            batch: dict[tuple[str, str], list[dict[str, Any]]] = {}
            deadline = time.monotonic() + self._BATCH_SECONDS
            while True:
                if item is None:
                    stopping = True
                else:
                    group, stream, log, millis = item
                    events = batch.setdefault((group, stream), [])
                    text = log.decode("utf-8", "replace")
                    events.extend(
                        {"timestamp": millis, "message": line[:_MAX_EVENT_CHARS]} for line in text.splitlines() if line
                    )
                remaining = deadline - time.monotonic()
                if stopping or remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            for (group, stream), events in batch.items():
                self._put(group, stream, events)

    def _put(self, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        try:
            client = self._logs_client()
            if (group, stream) not in self._created:
                for call, kwargs in (
                    (client.create_log_group, {"logGroupName": group}),
                    (client.create_log_stream, {"logGroupName": group, "logStreamName": stream}),
                ):
                    with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
                        call(**kwargs)
                self._created.add((group, stream))
            for batch in _batches(events):
                client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
        except Exception as exc:
            logger.warning("could not copy logs to CloudWatch Logs (%s %s): %s", group, stream, exc)

    def _logs_client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.session.Session().client("logs", endpoint_url=self._endpoint, region_name=self._region)
        return self._client
