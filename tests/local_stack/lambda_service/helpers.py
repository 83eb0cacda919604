"""Helpers of the Lambda service tests: starting and stopping the service, packaging cases, polling."""

from __future__ import annotations

import importlib.metadata
import io
import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_stack.services import service_named

CASES = Path(__file__).parent / "cases"
REPO = Path(__file__).resolve().parents[3]
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
ROLE = "arn:aws:iam::123456789012:role/lambda-test"
#: Lambda's 1 and 2 minute retry waits become 0.3 and 0.6 s; the minimum event age (60 s) becomes 1.2 s.
RETRY_DELAY_SCALE = 0.005
EVENT_AGE_SCALE = 0.02


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_for(condition: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@dataclass
class RunningService:
    url: str
    process: subprocess.Popen[bytes]
    state_dir: Path
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()


def start_service(state_dir: Path, environ: dict[str, str]) -> RunningService:
    port = free_port()
    log_path = state_dir.with_suffix(".log")
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            service_named("lambda").command("127.0.0.1", port, state_dir),
            cwd=REPO,
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    service = RunningService(f"http://127.0.0.1:{port}", process, state_dir, log_path)

    def healthy() -> bool:
        try:
            return service.get("/health") == (200, b'{"status": "ok"}')
        except OSError:
            return False

    if not wait_for(lambda: healthy() or process.poll() is not None, timeout=20) or process.poll() is not None:
        process.kill()
        raise RuntimeError(f"the Lambda service did not start:\n{service.log()}")
    return service


def stop_service(service: RunningService) -> int:
    """SIGTERM, as the stack does; returns the exit code after checking every runtime process is gone."""
    runtimes = children_of(service.process.pid)
    service.process.send_signal(signal.SIGTERM)
    try:
        code = service.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        service.process.kill()
        raise
    leftovers = [pid for pid in runtimes if wait_for(lambda pid=pid: not alive(pid), timeout=5) is False]
    assert not leftovers, f"runtime processes survived the service: {leftovers}"
    return code


def zip_case(*modules: str, source: dict[str, str] | None = None, distributions: tuple[str, ...] = ()) -> bytes:
    """A deployment package holding the named files of `cases/` (and any extra files given as text).

    `distributions` are installed packages bundled at the zip's root, as `pip install --target`
    does: the runtime offers only boto3, so a handler needing anything else must carry it.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for module in modules:
            archive.write(CASES / f"{module}.py", f"{module}.py")
        for name, text in (source or {}).items():
            archive.writestr(name, text)
        for distribution in map(importlib.metadata.distribution, distributions):
            for file in distribution.files or []:
                if file.parts[0] != ".." and "__pycache__" not in file.parts:
                    archive.write(str(distribution.locate_file(file)), str(file))
    return buffer.getvalue()


def receive_json(sqs: Any, url: str, timeout: float) -> list[dict[str, Any]]:
    """Messages on the queue within `timeout` seconds (returns as soon as one batch arrives)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if messages:
            return [json.loads(message["Body"]) for message in messages]
    return []


def invoke_json(client: Any, name: str, event: Any = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    response = client.invoke(FunctionName=name, Payload=json.dumps(event or {}), **kwargs)
    return response, json.loads(response["Payload"].read())
