"""The Lambda service as the stack runs it: a real subprocess on a free port, beside an in-process moto.

The service's environment mirrors the launcher's (moto endpoint, local credentials, region), with
the asynchronous retry waits and event ages scaled down so retries take fractions of a second.
Handlers are the files under `cases/`, zipped at deploy time; every function a test deploys is
deleted afterwards, which also kills its runtime processes.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from tests.local_stack.lambda_service.helpers import (
    CREDENTIALS,
    EVENT_AGE_SCALE,
    RETRY_DELAY_SCALE,
    ROLE,
    RunningService,
    free_port,
    start_service,
    stop_service,
    zip_case,
)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer("127.0.0.1", free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def service_environ(moto_url: str) -> dict[str, str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environ.update(CREDENTIALS)
    environ.update(
        {
            "AWS_ENDPOINT_URL": moto_url,
            "BATON_LAMBDA_RETRY_DELAY_SCALE": str(RETRY_DELAY_SCALE),
            "BATON_LAMBDA_EVENT_AGE_SCALE": str(EVENT_AGE_SCALE),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return environ


@pytest.fixture(scope="session")
def lambda_service(
    tmp_path_factory: pytest.TempPathFactory, service_environ: dict[str, str]
) -> Iterator[RunningService]:
    service = start_service(tmp_path_factory.mktemp("lambda") / "state", service_environ)
    yield service
    code = stop_service(service)
    assert code == 0, service.log()


@pytest.fixture(scope="session")
def lambda_client(lambda_service: RunningService) -> Any:
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60, connect_timeout=5)
    return boto3.client("lambda", endpoint_url=lambda_service.url, config=config, **_credentials())


@pytest.fixture(scope="session")
def sqs(moto_url: str) -> Any:
    return boto3.client("sqs", endpoint_url=moto_url, **_credentials())


@pytest.fixture(scope="session")
def logs_client(moto_url: str) -> Any:
    return boto3.client("logs", endpoint_url=moto_url, **_credentials())


def _credentials() -> dict[str, str]:
    return {
        "region_name": CREDENTIALS["AWS_DEFAULT_REGION"],
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }


_names = itertools.count()


@pytest.fixture
def deploy(lambda_client: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., str]]:
    """`deploy("basic.describe", Timeout=..., ...)` creates a function from `cases/basic.py`; returns its name."""
    created: list[str] = []

    def create(handler: str, *, package: bytes | None = None, **config: Any) -> str:
        name = f"{request.node.name[:40].replace('[', '-').replace(']', '')}-{next(_names)}"
        lambda_client.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=ROLE,
            Handler=handler,
            Code={"ZipFile": package or zip_case(handler.split(".")[0])},
            **config,
        )
        created.append(name)
        return name

    yield create
    for name in created:
        lambda_client.delete_function(FunctionName=name)


@pytest.fixture
def queue(sqs: Any, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """A fresh SQS queue of the local AWS: (url, arn)."""
    url = sqs.create_queue(QueueName=f"q-{next(_names)}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    yield url, arn
    sqs.delete_queue(QueueUrl=url)
