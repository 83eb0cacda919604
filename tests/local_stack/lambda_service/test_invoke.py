"""Synchronous invocations: the real context and environment, errors, log tail and logs, warm reuse."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable
from typing import Any

from tests.local_stack.lambda_service.helpers import RunningService, alive, invoke_json, wait_for, zip_case


def test_handler_gets_the_real_context_and_environment(
    lambda_client: Any, deploy: Callable[..., str], moto_url: str
) -> None:
    name = deploy(
        "basic.describe",
        MemorySize=256,
        Environment={"Variables": {"GREETING": "hi", "AWS_ENDPOINT_URL_SQS": "http://override"}},
    )
    variables = [
        "GREETING",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SQS",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "_HANDLER",
        "LAMBDA_TASK_ROOT",
        "AWS_LAMBDA_LOG_GROUP_NAME",
    ]
    response, body = invoke_json(lambda_client, name, {"variables": variables})
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert body["function_name"] == name and body["function_version"] == "$LATEST"
    assert body["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    assert body["memory_limit_in_mb"] == "256"
    assert body["aws_request_id"] == response["ResponseMetadata"]["RequestId"]
    assert body["log_group_name"] == f"/aws/lambda/{name}"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", body["log_stream_name"])
    assert 2900 <= body["remaining_ms"] <= 3000
    assert body["trace_id"].startswith("Root=1-") and ";Lineage=" in body["trace_id"]
    environ = body["environ"]
    assert environ["GREETING"] == "hi"
    assert environ["AWS_ENDPOINT_URL"] == moto_url  # inherited from the service, so code inside talks to local AWS
    assert environ["AWS_ENDPOINT_URL_SQS"] == "http://override"  # the function's own variables win
    assert environ["AWS_LAMBDA_FUNCTION_NAME"] == name and environ["_HANDLER"] == "basic.describe"
    assert environ["AWS_REGION"] == environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert environ["LAMBDA_TASK_ROOT"] == body["cwd"]


def test_client_context_reaches_the_handler(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("basic.describe")
    client_context = base64.b64encode(json.dumps({"custom": {"caller": "dagster"}}).encode()).decode()
    assert invoke_json(lambda_client, name, ClientContext=client_context)[1]["client_custom"] == {"caller": "dagster"}


def test_warm_environment_is_reused_and_init_runs_once(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("basic.describe")
    bodies = [invoke_json(lambda_client, name)[1] for _ in range(3)]
    assert [body["init_runs"] for body in bodies] == [1, 1, 1]
    assert [body["calls"] for body in bodies] == [1, 2, 3]
    assert len({body["pid"] for body in bodies}) == 1


def test_concurrent_invocations_get_separate_environments(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("basic.sleep")
    pids: list[int] = []

    def call() -> None:
        pids.append(invoke_json(lambda_client, name, {"seconds": 0.6})[1]["pid"])

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(pids)) == 3
    assert invoke_json(lambda_client, name, {"seconds": 0})[1]["pid"] in pids  # then warm ones are reused


def test_update_retires_old_environments(
    lambda_client: Any, deploy: Callable[..., str], lambda_service: RunningService
) -> None:
    name = deploy("basic.describe")
    first = invoke_json(lambda_client, name)[1]
    lambda_client.update_function_configuration(FunctionName=name, Environment={"Variables": {"STAGE": "two"}})
    second = invoke_json(lambda_client, name, {"variables": ["STAGE"]})[1]
    assert second["environ"] == {"STAGE": "two"} and second["init_runs"] == 1 and second["calls"] == 1
    assert second["pid"] != first["pid"]
    assert wait_for(lambda: not alive(first["pid"]), timeout=5)
    lambda_client.update_function_code(
        FunctionName=name, ZipFile=zip_case(source={"basic.py": "def describe(event, context):\n    return 'v2'\n"})
    )
    assert invoke_json(lambda_client, name)[1] == "v2"
    assert wait_for(lambda: not alive(second["pid"]), timeout=5)
    code_root = lambda_service.state_dir / "functions" / name / "code"
    assert wait_for(lambda: len([path for path in code_root.iterdir() if path.is_dir()]) == 1, timeout=5)


def test_unhandled_exception_comes_back_as_function_error(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("basic.fail")
    response, body = invoke_json(lambda_client, name, {"tag": "order 7"})
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "refusing order 7"
    assert body["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert any("raise ValueError" in frame for frame in body["stackTrace"])
    # the environment survives a handled failure, as on Lambda
    assert invoke_json(lambda_client, name)[0]["FunctionError"] == "Unhandled"


def test_runtime_exit_is_reported_like_lambda(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("basic.exit_process")
    response, body = invoke_json(lambda_client, name, {"code": 3})
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["FunctionError"] == "Unhandled"
    assert body == {
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status 3",
        "errorType": "Runtime.ExitError",
    }


def test_import_error_is_reported_like_lambda(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("broken_import.handler")
    response, body = invoke_json(lambda_client, name, LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'broken_import'" in body["errorMessage"]
    assert "Runtime.ImportModuleError" in base64.b64decode(response["LogResult"]).decode()


def test_log_tail_holds_the_last_4kb_with_platform_lines(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("basic.describe")
    response = lambda_client.invoke(FunctionName=name, Payload=json.dumps({"tag": "tail-me"}), LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    log = base64.b64decode(response["LogResult"]).decode()
    lines = log.splitlines()
    assert "basic: module initialised" in log  # a cold start's init output comes first
    assert f"START RequestId: {request_id} Version: $LATEST" in lines
    assert "basic: describing tail-me" in lines
    assert f"END RequestId: {request_id}" in lines
    report = lines[-1]
    assert report.startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    for field in ("Billed Duration: ", "Memory Size: 128 MB", "Max Memory Used: ", "Init Duration: "):
        assert field in report

    chatty = deploy("basic.chatty")
    response = lambda_client.invoke(FunctionName=chatty, Payload=json.dumps({"lines": 200}), LogType="Tail")
    tail = base64.b64decode(response["LogResult"])
    assert len(tail) <= 4096 and tail.decode().splitlines()[-1].startswith("REPORT RequestId: ")
    assert "line 00199" in tail.decode() and "line 00000" not in tail.decode()


def test_no_log_result_without_tail(lambda_client: Any, deploy: Callable[..., str]) -> None:
    name = deploy("basic.describe")
    assert "LogResult" not in lambda_client.invoke(FunctionName=name)


def test_full_log_is_kept_per_request_id(
    lambda_client: Any, deploy: Callable[..., str], lambda_service: RunningService
) -> None:
    name = deploy("basic.chatty")
    response = lambda_client.invoke(FunctionName=name, Payload=json.dumps({"lines": 100}))
    request_id = response["ResponseMetadata"]["RequestId"]
    status, log = lambda_service.get(f"/local/logs/{request_id}")
    assert status == 200
    text = log.decode()
    assert "line 00000" in text and "line 00099" in text and f"END RequestId: {request_id}" in text
    assert lambda_service.get("/local/logs/no-such-request")[0] == 404


def test_logs_reach_cloudwatch_logs(lambda_client: Any, deploy: Callable[..., str], logs_client: Any) -> None:
    name = deploy("basic.describe")
    response = lambda_client.invoke(FunctionName=name, Payload=json.dumps({"tag": "to-cloudwatch"}))
    request_id = response["ResponseMetadata"]["RequestId"]

    def shipped() -> list[str]:
        try:
            events = logs_client.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs_client.exceptions.ResourceNotFoundException:
            return []
        return [event["message"] for event in events]

    messages = wait_for(lambda: [m for m in shipped() if request_id in m and m.startswith("END")], timeout=5)
    assert messages == [f"END RequestId: {request_id}"]
    assert "basic: describing to-cloudwatch" in shipped()


def test_a_warm_invoke_reuses_the_environment_and_skips_init(lambda_client: Any, deploy: Callable[..., str]) -> None:
    """What makes a warm invoke cheap, asserted as behaviour: the same process, no module import, no init."""
    name = deploy("basic.describe")
    _, cold = invoke_json(lambda_client, name, {"tag": "cold"})
    for call in range(2, 7):
        response = lambda_client.invoke(FunctionName=name, Payload=json.dumps({"tag": "warm"}), LogType="Tail")
        warm = json.loads(response["Payload"].read())
        log = base64.b64decode(response["LogResult"]).decode()
        assert (warm["pid"], warm["init_runs"], warm["calls"]) == (cold["pid"], 1, call), "the same environment"
        assert "basic: module initialised" not in log and "Init Duration: " not in log.splitlines()[-1]
