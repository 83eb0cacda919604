"""The process contract the stack launcher relies on: SIGTERM kills every runtime and exits 0; state persists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.local_stack.lambda_service.helpers import CREDENTIALS, ROLE, alive, start_service, stop_service, zip_case


def _client(url: str) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.mark.slow
def test_sigterm_kills_runtimes_and_functions_survive_a_restart(
    tmp_path: Path, service_environ: dict[str, str]
) -> None:
    state = tmp_path / "state"
    service = start_service(state, service_environ)
    try:
        client = _client(service.url)
        client.create_function(
            FunctionName="persisted",
            Runtime="python3.11",
            Role=ROLE,
            Handler="basic.sleep",
            Code={"ZipFile": zip_case("basic")},
        )
        pid = json.loads(client.invoke(FunctionName="persisted", Payload=b'{"seconds": 0}')["Payload"].read())["pid"]
        assert alive(pid)
    finally:
        code = stop_service(service)  # also asserts that no runtime process outlived the service
    assert code == 0
    assert not alive(pid)

    restarted = start_service(state, service_environ)
    try:
        client = _client(restarted.url)
        assert client.get_function(FunctionName="persisted")["Configuration"]["Handler"] == "basic.sleep"
        body = json.loads(client.invoke(FunctionName="persisted", Payload=b'{"seconds": 0}')["Payload"].read())
        assert body["pid"] != pid
    finally:
        assert stop_service(restarted) == 0
