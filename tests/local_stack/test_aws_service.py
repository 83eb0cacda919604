"""The local AWS as the stack runs it, doing what real AWS does and moto alone does not.

Each service is a real `python -m local_stack.services.aws` process on a free port, stopped by
pid. Nothing asserts a duration: throttling is checked with rates far below what any machine
sends, or by consistency between what clients saw and what the service counted.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_stack.services.aws_fidelity import ADMIN_PATH, SsmThrottle

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
NO_RETRIES = Config(retries={"total_max_attempts": 1}, max_pool_connections=20)
STANDARD_RETRIES = Config(retries={"mode": "standard", "max_attempts": 10})
PARAMETER = "/baton/test/throttled"
RACERS = 20
ROUNDS = 5

WIDENED_WINDOW = """
import runpy, time
from moto.s3.models import S3Backend

checked_put = S3Backend.put_object

def put_object_later(self, *args, **kwargs):
    time.sleep(0.01)  # between the response's condition check and the backend's write
    return checked_put(self, *args, **kwargs)

S3Backend.put_object = put_object_later
runpy.run_module("local_stack.services.aws", run_name="__main__", alter_sys=True)
"""
"""The service with moto's check-to-write gap stretched to 10 ms: every racer passes the check
before any writes, so the races below fail unless the middleware serialises conditional writes.
Against moto as is the gap is too short to hit reliably, and a passing race would prove little."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AwsService:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def client(self, name: str, config: Config = NO_RETRIES) -> Any:
        return boto3.client(
            name,
            endpoint_url=self.url,
            region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=config,
        )

    def admin(self, payload: bytes | None = None, method: str | None = None) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(self.url + ADMIN_PATH, data=payload, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def set_tps(self, tps: float | None) -> dict[str, Any]:
        status, snapshot = self.admin(json.dumps({"tps": tps}).encode())
        assert status == 200, snapshot
        assert snapshot["tps"] == tps
        return snapshot

    def counts(self) -> dict[str, Any]:
        status, snapshot = self.admin()
        assert status == 200, snapshot
        return snapshot


def start_service(tmp_path: Path, env: dict[str, str] | None = None, prelude: str | None = None) -> AwsService:
    """The service as the stack starts it; `prelude` runs it under `python -c` with moto patched first."""
    port = free_port()
    arguments = ["--host", "127.0.0.1", "--port", str(port), "--state-dir", str(tmp_path)]
    launcher = ["-m", "local_stack.services.aws"] if prelude is None else ["-c", prelude]
    log_path = tmp_path / f"aws-{port}.log"
    environ = {key: value for key, value in os.environ.items() if key != "BATON_SSM_TPS"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, *launcher, *arguments],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**environ, **CREDENTIALS, **(env or {})},
        )
    service = AwsService(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(service.url + "/moto-api/", timeout=2) as response:
                if response.status == 200:
                    return service
        except OSError:
            time.sleep(0.1)
    stop_service(service)
    raise AssertionError(f"the aws service did not become healthy; its log:\n{log_path.read_text()}")


def stop_service(service: AwsService) -> None:
    """SIGTERM by pid, SIGKILL if it has not exited within 10 s."""
    if service.process.poll() is None:
        os.kill(service.process.pid, signal.SIGTERM)
        try:
            service.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(service.process.pid, signal.SIGKILL)
            service.process.wait(timeout=10)


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsService]:
    service = start_service(tmp_path_factory.mktemp("aws"))
    service.client("ssm").put_parameter(Name=PARAMETER, Value="v", Type="String", Overwrite=True)
    yield service
    stop_service(service)


@pytest.fixture(autouse=True)
def throttle_off_afterwards(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that switches the shared service's throttle on leaves it off for the next one."""
    yield
    if "aws" in request.fixturenames:
        request.getfixturevalue("aws").set_tps(None)


def call_ssm(client: Any, calls: int) -> tuple[int, int]:
    """`calls` GetParameter calls in a row: (succeeded, throttled), checking each throttle's shape."""
    succeeded = throttled = 0
    for _ in range(calls):
        try:
            client.get_parameter(Name=PARAMETER)
        except ClientError as error:
            assert error.response["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}
            assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
            throttled += 1
        else:
            succeeded += 1
    return succeeded, throttled


def test_ssm_past_the_rate_is_throttled_as_aws_throttles(aws: AwsService) -> None:
    aws.set_tps(2)
    before = aws.counts()
    succeeded, throttled = call_ssm(aws.client("ssm"), 40)
    after = aws.counts()
    assert throttled > 0  # 40 calls would have to take 19 s to stay within 2 per second
    assert succeeded >= 2  # the bucket starts full
    assert after["served"] - before["served"] == succeeded
    assert after["throttled"] - before["throttled"] == throttled
    s3 = aws.client("s3")
    for _ in range(5):  # only SSM is throttled
        s3.list_buckets()


def test_botocore_standard_retries_ride_out_the_throttle(aws: AwsService) -> None:
    aws.set_tps(10)
    before = aws.counts()
    client = aws.client("ssm", STANDARD_RETRIES)
    retries = sum(client.get_parameter(Name=PARAMETER)["ResponseMetadata"]["RetryAttempts"] for _ in range(30))
    after = aws.counts()
    assert after["served"] - before["served"] == 30
    assert after["throttled"] - before["throttled"] == retries


def test_with_the_throttle_off_no_call_is_throttled(aws: AwsService) -> None:
    aws.set_tps(2)
    before = aws.set_tps(None)
    assert call_ssm(aws.client("ssm"), 40) == (40, 0)
    after = aws.counts()
    assert (after["served"] - before["served"], after["throttled"] - before["throttled"]) == (40, 0)


@pytest.mark.parametrize(
    "payload", [b'{"tps": 0}', b'{"tps": -1}', b'{"tps": "40"}', b'{"tps": true}', b"{}", b"[40]", b"forty"]
)
def test_the_admin_endpoint_refuses_a_bad_setting(aws: AwsService, payload: bytes) -> None:
    aws.set_tps(7)
    status, answer = aws.admin(payload)
    assert status == 400 and "error" in answer
    assert aws.counts()["tps"] == 7


def test_the_admin_endpoint_answers_only_get_and_post(aws: AwsService) -> None:
    assert aws.admin(method="DELETE")[0] == 405


def test_the_rate_at_start_comes_from_the_environment(tmp_path: Path) -> None:
    service = start_service(tmp_path, env={"BATON_SSM_TPS": "2"})
    try:
        assert service.counts() == {"tps": 2, "served": 0, "throttled": 0}
        client = service.client("ssm")
        client.put_parameter(Name=PARAMETER, Value="v", Type="String")
        succeeded, throttled = call_ssm(client, 20)
        assert throttled > 0
        assert service.counts() == {"tps": 2, "served": succeeded + 1, "throttled": throttled}
    finally:
        stop_service(service)
    assert service.process.returncode == 0  # SIGTERM, the stack's `down`, ends it cleanly


def test_a_rate_that_is_not_a_positive_number_stops_the_start(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "local_stack.services.aws", "--port", str(free_port()), "--state-dir", "."]
    result = subprocess.run(
        command, env={**os.environ, "BATON_SSM_TPS": "fast"}, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "BATON_SSM_TPS='fast'" in result.stderr


def test_the_bucket_refills_at_the_rate_up_to_a_burst_of_tps() -> None:
    now = [0.0]
    throttle = SsmThrottle(2, clock=lambda: now[0])
    assert [throttle.admit() for _ in range(3)] == [True, True, False]
    now[0] += 0.5
    assert [throttle.admit() for _ in range(2)] == [True, False]
    now[0] += 60
    assert [throttle.admit() for _ in range(3)] == [True, True, False]
    throttle.set_rate(0.5)  # below one per second the burst is still one call
    assert [throttle.admit() for _ in range(2)] == [True, False]
    throttle.set_rate(None)
    assert all(throttle.admit() for _ in range(100))
    assert throttle.snapshot() == {"tps": None, "served": 106, "throttled": 4}


@pytest.fixture(scope="module", params=["moto as is", "check-to-write window widened"])
def racing_s3(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    prelude = WIDENED_WINDOW if request.param == "check-to-write window widened" else None
    service = start_service(tmp_path_factory.mktemp("race"), prelude=prelude)
    s3 = service.client("s3")
    s3.create_bucket(Bucket="baton-race")
    yield s3
    stop_service(service)


def race(write: Callable[[int], dict[str, Any]]) -> tuple[dict[int, dict[str, Any]], list[ClientError]]:
    """RACERS threads released together, each calling `write(its number)`: (answers by winner, errors)."""
    start = threading.Barrier(RACERS, timeout=30)
    wins: dict[int, dict[str, Any]] = {}
    errors: list[ClientError] = []

    def racer(number: int) -> None:
        start.wait()
        try:
            wins[number] = write(number)
        except ClientError as error:
            errors.append(error)

    with ThreadPoolExecutor(RACERS) as pool:
        for future in [pool.submit(racer, number) for number in range(RACERS)]:
            future.result(timeout=60)
    return wins, errors


def assert_one_winner(s3: Any, key: str, wins: dict[int, dict[str, Any]], errors: list[ClientError]) -> None:
    assert len(wins) == 1, f"{len(wins)} of {RACERS} conditional writers won"
    assert [error.response["Error"]["Code"] for error in errors] == ["PreconditionFailed"] * (RACERS - 1)
    assert {error.response["ResponseMetadata"]["HTTPStatusCode"] for error in errors} == {412}
    [(winner, answer)] = wins.items()
    stored = s3.get_object(Bucket="baton-race", Key=key)
    assert stored["Body"].read() == f"writer {winner}".encode()
    assert stored["ETag"] == answer["ETag"]


def test_of_racing_create_only_writers_exactly_one_wins(racing_s3: Any) -> None:
    for round_ in range(ROUNDS):
        key = f"create-once/{round_}"
        wins, errors = race(
            lambda number, key=key: racing_s3.put_object(
                Bucket="baton-race", Key=key, Body=f"writer {number}".encode(), IfNoneMatch="*"
            )
        )
        assert_one_winner(racing_s3, key, wins, errors)


def test_of_racing_replace_if_unchanged_writers_exactly_one_wins(racing_s3: Any) -> None:
    for round_ in range(ROUNDS):
        key = f"replace-if-unchanged/{round_}"
        etag = racing_s3.put_object(Bucket="baton-race", Key=key, Body=b"first")["ETag"]
        wins, errors = race(
            lambda number, key=key, etag=etag: racing_s3.put_object(
                Bucket="baton-race", Key=key, Body=f"writer {number}".encode(), IfMatch=etag
            )
        )
        assert_one_winner(racing_s3, key, wins, errors)
