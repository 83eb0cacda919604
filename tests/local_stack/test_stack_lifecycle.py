"""`baton stack up|down|status|env` as a user runs them: the CLI in a subprocess, real processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_stack.services import SERVICES


def baton(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    free_ports = {spec.port_variable: "0" for spec in SERVICES}
    environ = {**os.environ, "BATON_HOME": str(home), **free_ports, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "platform_defs.cli", *args], env=environ, capture_output=True, text=True, timeout=120
    )


def recorded_pids(home: Path) -> dict[str, int]:
    services = json.loads((home / "stack.json").read_text())["services"]
    return {name: record["pid"] for name, record in services.items()}


def alive(pid: int) -> bool:
    try:
        return not Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A stack of this module's own, so stopping it cannot disturb the session's stack."""
    home = tmp_path_factory.mktemp("lifecycle")
    started = baton(home, "stack", "up")
    assert started.returncode == 0, started.stderr
    yield home
    baton(home, "stack", "down")


def test_up_starts_every_service_healthy_on_loopback(own_stack: Path) -> None:
    status = baton(own_stack, "stack", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    lines = status.stdout.splitlines()[1:-1]
    assert [line.split()[:2] for line in lines] == [[spec.name, "healthy"] for spec in SERVICES]
    assert all("http://127.0.0.1:" in line for line in lines)


def test_up_twice_keeps_the_same_processes(own_stack: Path) -> None:
    before = recorded_pids(own_stack)
    again = baton(own_stack, "stack", "up")
    assert again.returncode == 0, again.stderr
    assert recorded_pids(own_stack) == before
    assert all(alive(pid) for pid in before.values())


def test_env_prints_exports_that_reach_the_services(own_stack: Path) -> None:
    result = baton(own_stack, "stack", "env")
    assert result.returncode == 0, result.stderr
    exports = dict(line.removeprefix("export ").split("=", 1) for line in result.stdout.splitlines())
    assert exports["BATON_ENV"] == "local"
    assert exports["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert exports["AWS_ENDPOINT_URL_LAMBDA"].startswith("http://127.0.0.1:")
    assert exports["BATON_VENDOR_MARKETS_BASE_URL"].startswith("http://127.0.0.1:")
    snowflake = f"{exports['SNOWFLAKE_PROTOCOL']}://{exports['SNOWFLAKE_HOST']}:{exports['SNOWFLAKE_PORT']}"
    with urllib.request.urlopen(snowflake + "/health", timeout=5) as response:
        assert response.status == 200
    shell = subprocess.run(
        ["bash", "-c", 'eval "$(cat)"; echo "$AWS_ENDPOINT_URL"'],
        input=result.stdout,
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout.strip() == exports["AWS_ENDPOINT_URL"]


def test_port_in_use_is_an_error_naming_port_and_service(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = baton(tmp_path, "stack", "up", env={"BATON_AWS_PORT": str(port)})
    assert result.returncode == 1
    assert f"port {port} for service 'aws' is in use" in result.stderr
    assert not (tmp_path / "stack.json").exists() or recorded_pids(tmp_path) == {}


def test_down_stops_exactly_the_processes_up_started(tmp_path: Path) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert baton(tmp_path, "stack", "up").returncode == 0
        pids = recorded_pids(tmp_path)
        down = baton(tmp_path, "stack", "down")
        assert down.returncode == 0
        assert "stopped: vendor, lambda, snowflake, aws" in down.stdout
        assert not any(alive(pid) for pid in pids.values())
        assert bystander.poll() is None
        status = baton(tmp_path, "stack", "status")
        assert status.returncode == 1
        assert "stopped" in status.stdout
    finally:
        bystander.kill()
        bystander.wait()


def test_down_ignores_a_recorded_pid_that_now_belongs_to_another_process(tmp_path: Path) -> None:
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        record = {
            "name": "aws",
            "module": "local_stack.services.aws",
            "pid": stranger.pid,
            "port": 1,
            "url": "x",
            "log": "x",
        }
        (tmp_path / "stack.json").write_text(json.dumps({"services": {"aws": record}}))
        down = baton(tmp_path, "stack", "down")
        assert "nothing was running" in down.stdout
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_env_without_a_running_stack_says_how_to_start_it(tmp_path: Path) -> None:
    result = baton(tmp_path, "stack", "env")
    assert result.returncode == 1
    assert "baton stack up" in result.stderr
