"""The process contract the stack launcher depends on: key rules, binding, signals, keep-alive."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.local_stack.vendor_api.helpers import API_KEY, PROJECT_ROOT, SMALL_CONFIG, StartVendor, VendorClient


def test_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "BATON_VENDOR_API_KEY"}
    args = [sys.executable, "-m", "local_stack.vendor_api", "--port", "1", "--state-dir", str(tmp_path)]
    finished = subprocess.run(args, cwd=PROJECT_ROOT, env=env, capture_output=True, timeout=30, check=False)
    assert finished.returncode != 0
    assert b"BATON_VENDOR_API_KEY" in finished.stderr


def test_key_from_the_environment(start_vendor: StartVendor) -> None:
    server = start_vendor(api_key=None, env={"BATON_VENDOR_API_KEY": "from-env-key"})
    client = server.client
    assert client.request("GET", "/v1/instruments.xml", key="from-env-key").status == 200
    assert client.request("GET", "/v1/instruments.xml", key=API_KEY).status == 401


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_on_signal(start_vendor: StartVendor, sig: int) -> None:
    server = start_vendor()
    assert server.client.get("/v1/instruments.xml").status == 200
    started = time.monotonic()
    assert server.stop(sig) == 0
    assert time.monotonic() - started < 3


def test_binds_only_the_given_host(start_vendor: StartVendor) -> None:
    server = start_vendor(host="127.0.0.2")
    assert server.client.request("GET", "/health").status == 200
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", server.client.port), timeout=2):
        pass


def test_health_needs_no_key(vendor: VendorClient) -> None:
    result = vendor.request("GET", "/health")
    assert (result.status, result.json()) == (200, {"status": "ok"})


def test_keep_alive_answers_small_requests_without_nagle_stalls(vendor: VendorClient) -> None:
    connection = http.client.HTTPConnection(vendor.host, vendor.port, timeout=10)
    try:
        started = time.perf_counter()
        for _ in range(50):
            connection.request("GET", "/v1/fx?from=2024-01-02&to=2024-01-02&limit=1", headers={"X-Api-Key": API_KEY})
            response = connection.getresponse()
            assert response.status == 200
            assert int(response.getheader("Content-Length")) == len(response.read())
        elapsed = time.perf_counter() - started
    finally:
        connection.close()
    # One connection for all 50; a split header/body write would stall ~40 ms each.
    assert elapsed < 1.0, f"50 keep-alive requests took {elapsed:.2f} s"


def test_config_file_and_flags(start_vendor: StartVendor, tmp_path: Path) -> None:
    config_file = tmp_path / "vendor.json"
    config_file.write_text('{"seed": 11, "instruments": 12, "start_date": "2023-01-02"}')
    server = start_vendor({"now": SMALL_CONFIG["now"], "instruments": 9}, extra_args=["--config", str(config_file)])
    config = server.client.admin("/admin/config")
    assert (config["seed"], config["instruments"], config["start_date"]) == (11, 9, "2023-01-02")
    assert config["now"] == "2024-03-01T12:00:00Z"
