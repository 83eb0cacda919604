"""The control plane through boto3: shapes, waiters, and errors raised as the same botocore exceptions as on AWS."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from tests.local_stack.lambda_service.helpers import ROLE, RunningService, zip_case


def test_health_answers_ok(lambda_service: RunningService) -> None:
    assert lambda_service.get("/health") == (200, b'{"status": "ok"}')


def test_create_get_list_delete(lambda_client: Any, lambda_service: RunningService) -> None:
    package = zip_case("basic")
    created = lambda_client.create_function(
        FunctionName="api-roundtrip",
        Runtime="python3.11",
        Role=ROLE,
        Handler="basic.describe",
        Code={"ZipFile": package},
        Timeout=7,
        MemorySize=256,
        Environment={"Variables": {"COLOUR": "blue"}},
        Tags={"team": "data"},
    )
    try:
        assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
        assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:api-roundtrip"
        assert created["State"] == "Active" and created["LastUpdateStatus"] == "Successful"
        assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()
        assert (created["Timeout"], created["MemorySize"], created["Version"]) == (7, 256, "$LATEST")
        lambda_client.get_waiter("function_active_v2").wait(FunctionName="api-roundtrip")
        lambda_client.get_waiter("function_updated_v2").wait(FunctionName="api-roundtrip")

        fetched = lambda_client.get_function(FunctionName=created["FunctionArn"])
        assert fetched["Configuration"]["Environment"] == {"Variables": {"COLOUR": "blue"}}
        assert fetched["Tags"] == {"team": "data"}
        with urllib.request.urlopen(fetched["Code"]["Location"], timeout=5) as download:
            assert download.read() == package
        names = [
            f["FunctionName"]
            for page in lambda_client.get_paginator("list_functions").paginate()
            for f in page["Functions"]
        ]
        assert "api-roundtrip" in names
    finally:
        lambda_client.delete_function(FunctionName="api-roundtrip")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_function_configuration(FunctionName="api-roundtrip")


def test_update_configuration_and_code(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("basic.describe")
    before = lambda_client.get_function_configuration(FunctionName=name)
    updated = lambda_client.update_function_configuration(
        FunctionName=name, Timeout=9, MemorySize=512, Handler="basic.sleep", Environment={"Variables": {"A": "1"}}
    )
    assert (updated["Timeout"], updated["MemorySize"], updated["Handler"]) == (9, 512, "basic.sleep")
    assert updated["RevisionId"] != before["RevisionId"]
    new_package = zip_case("basic", source={"extra.txt": "v2"})
    code = lambda_client.update_function_code(FunctionName=name, ZipFile=new_package)
    assert code["CodeSha256"] == base64.b64encode(hashlib.sha256(new_package).digest()).decode()
    assert code["Timeout"] == 9
    with pytest.raises(lambda_client.exceptions.PreconditionFailedException):
        lambda_client.update_function_configuration(FunctionName=name, Timeout=3, RevisionId=before["RevisionId"])


def test_missing_function_raises_resource_not_found(lambda_client: Any) -> None:
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as raised:
        lambda_client.invoke(FunctionName="no-such-function")
    assert "Function not found: arn:aws:lambda:us-east-1:123456789012:function:no-such-function" in str(raised.value)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_unknown_qualifier_raises_resource_not_found(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("basic.describe")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(FunctionName=name, Qualifier="7")
    assert lambda_client.invoke(FunctionName=f"{name}:$LATEST")["StatusCode"] == 200


def test_duplicate_create_raises_resource_conflict(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("basic.describe")
    with pytest.raises(lambda_client.exceptions.ResourceConflictException):
        lambda_client.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=ROLE,
            Handler="basic.describe",
            Code={"ZipFile": zip_case("basic")},
        )


@pytest.mark.parametrize(
    "config",
    [
        {"Timeout": 901},
        {"MemorySize": 10241},
        {"Environment": {"Variables": {"AWS_REGION": "eu-west-1"}}},
        {"Environment": {"Variables": {"BIG": "x" * 5000}}},
    ],
    ids=["timeout-over-900", "memory-over-10240", "reserved-variable", "variables-over-4kb"],
)
def test_invalid_configuration_raises_invalid_parameter_value(
    lambda_client: Any, deploy: Callable[..., str], config: dict[str, Any]
) -> None:
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException):
        deploy("basic.describe", **config)


def test_bad_zip_raises_invalid_parameter_value(lambda_client: Any, deploy: Callable[..., str]) -> None:
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as raised:
        deploy("basic.describe", package=b"this is not a zip file")
    assert "Could not unzip uploaded file" in str(raised.value)


def test_payload_that_is_not_json_raises_invalid_request_content(
    lambda_client: Any, deploy: Callable[..., str]
) -> None:
    name = deploy("basic.describe")
    with pytest.raises(lambda_client.exceptions.InvalidRequestContentException):
        lambda_client.invoke(FunctionName=name, Payload=b"{not json")


def test_event_invoke_config_round_trip(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("basic.describe")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_function_event_invoke_config(FunctionName=name)
    destination = "arn:aws:sqs:us-east-1:123456789012:failures"
    lambda_client.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=1,
        MaximumEventAgeInSeconds=120,
        DestinationConfig={"OnFailure": {"Destination": destination}},
    )
    config = lambda_client.get_function_event_invoke_config(FunctionName=name)
    assert config["MaximumRetryAttempts"] == 1 and config["MaximumEventAgeInSeconds"] == 120
    assert config["DestinationConfig"]["OnFailure"] == {"Destination": destination}
    assert config["FunctionArn"].endswith(f"function:{name}:$LATEST")
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException):
        lambda_client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=3)


def test_concurrency_and_recursion_settings_round_trip(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("basic.describe")
    assert "ReservedConcurrentExecutions" not in lambda_client.get_function_concurrency(FunctionName=name)
    assert (
        lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=3)[
            "ReservedConcurrentExecutions"
        ]
        == 3
    )
    assert lambda_client.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 3
    assert lambda_client.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 3}
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException):
        lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=901)
    lambda_client.delete_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in lambda_client.get_function_concurrency(FunctionName=name)

    assert lambda_client.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Terminate"
    lambda_client.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    assert lambda_client.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Allow"


def test_dry_run_checks_without_running(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("basic.describe")
    response = lambda_client.invoke(FunctionName=name, InvocationType="DryRun")
    assert response["StatusCode"] == 204
    assert json.loads(lambda_client.invoke(FunctionName=name)["Payload"].read())["calls"] == 1
