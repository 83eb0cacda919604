"""A harness for the vendor API: start it as a real subprocess on a free port, and talk to it over HTTP."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

PROJECT_ROOT = Path(__file__).resolve().parents[3]
API_KEY = "vk-test-3f9a1c77e2"
SMALL_CONFIG: dict[str, Any] = {
    "seed": 7,
    "instruments": 40,
    "intraday_instruments": 5,
    "start_date": "2024-01-01",
    "now": "2024-03-01T12:00:00Z",
    "job_seconds": 1.0,
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


class VendorClient:
    """Requests against one server; `/v1` calls send the API key unless told otherwise."""

    def __init__(self, host: str, port: int, api_key: str = API_KEY) -> None:
        self.host, self.port, self.api_key = host, port, api_key

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        key: str | None = None,
        timeout: float = 30.0,
    ) -> HttpResult:
        target = path + ("?" + urlencode(params) if params else "")
        headers = {"X-Api-Key": key} if key else {}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.request(method, target, body=payload, headers=headers)
            response = connection.getresponse()
            return HttpResult(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def get(self, path: str, **params: Any) -> HttpResult:
        return self.request("GET", path, params, key=self.api_key)

    def post(self, path: str, body: Any) -> HttpResult:
        return self.request("POST", path, body=body, key=self.api_key)

    def admin(self, path: str, body: Any = None) -> Any:
        result = self.request("GET" if body is None else "POST", path, body=body)
        assert result.status == 200, result.text
        return result.json()


@dataclass
class VendorProcess:
    """One `python -m local_stack.vendor_api` process and its log file."""

    process: subprocess.Popen[bytes]
    client: VendorClient
    log_path: Path
    state_dir: Path
    stopped: bool = field(default=False)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_once_it_has(self, *fragments: str, seconds: float = 5.0) -> str:
        """The log once every fragment is in it: the service logs a request after answering it."""
        deadline = time.monotonic() + seconds
        while True:
            log = self.log()
            if all(fragment in log for fragment in fragments) or time.monotonic() > deadline:
                return log
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.stopped:
            return self.process.returncode
        self.stopped = True
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise


def launch(
    state_dir: Path,
    config: Mapping[str, Any] | None = None,
    *,
    host: str = "127.0.0.1",
    api_key: str | None = API_KEY,
    env: Mapping[str, str] | None = None,
    extra_args: list[str] | None = None,
) -> VendorProcess:
    """Start a server and wait until /health answers; an early exit fails with the server's log."""
    port = free_port(host)
    args = [sys.executable, "-m", "local_stack.vendor_api", "--host", host, "--port", str(port)]
    args += ["--state-dir", str(state_dir)]
    if api_key is not None:
        args += ["--api-key", api_key]
    for name, value in (config or {}).items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    args += extra_args or []
    environment = {k: v for k, v in os.environ.items() if k != "BATON_VENDOR_API_KEY"}
    environment.update(env or {})
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / "service.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, cwd=PROJECT_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
    client = VendorClient(host, port)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"vendor API exited with {process.returncode}; log:\n{log_path.read_text()}")
        with suppress(OSError, http.client.HTTPException):
            if client.request("GET", "/health", timeout=2).status == 200:
                return VendorProcess(process, client, log_path, state_dir)
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise AssertionError(f"vendor API did not become healthy; log:\n{log_path.read_text()}")


StartVendor = Callable[..., VendorProcess]
