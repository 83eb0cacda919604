"""A function sees only its zip, the runtime client, boto3 and the standard library, as on AWS.

The service itself runs in the project's venv, beside dagster and pandas; if its runtimes shared
that venv, a worker importing either would pass here and fail on its first real invocation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.local_stack.lambda_service.helpers import invoke_json, receive_json

#: Top-level modules of AWS's Python 3.11 `/var/runtime`: awslambdaric and what it needs, boto3 and what it needs.
RUNTIME_MODULES = [
    "awslambdaric",
    "boto3",
    "botocore",
    "dateutil",
    "jmespath",
    "runtime_client",
    "s3transfer",
    "simplejson",
    "six",
    "snapshot_restore_py",
    "urllib3",
]


@pytest.mark.parametrize(("module", "library"), [("imports_dagster", "dagster"), ("imports_pandas", "pandas")])
def test_a_library_the_runtime_lacks_fails_the_import_as_on_aws(
    lambda_client: Any, deploy: Callable[..., str], module: str, library: str
) -> None:
    name = deploy(f"{module}.handler")
    response, body = invoke_json(lambda_client, name)
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == f"Unable to import module '{module}': No module named '{library}'"


def test_boto3_comes_from_the_runtime_directory_after_the_task_root(
    lambda_client: Any, deploy: Callable[..., str], sqs: Any, queue: tuple[str, str]
) -> None:
    url, _ = queue
    name = deploy("runtime_path.describe")
    response, body = invoke_json(lambda_client, name, {"queue": url})
    assert "FunctionError" not in response, body
    task_root, runtime_dir, *standard_library = body["path"]
    assert task_root == body["task_root"] and runtime_dir == body["runtime_dir"]
    assert standard_library and all(path.startswith(body["base_prefix"]) for path in standard_library)
    assert not any("site-packages" in path for path in body["path"])
    assert body["prefix"] == body["base_prefix"]  # the base interpreter, not the venv
    assert body["isolated"] == 1 and body["no_site"] == 1
    assert body["runtime_modules"] == RUNTIME_MODULES
    assert body["boto3_file"].startswith(runtime_dir)
    assert receive_json(sqs, url, timeout=10) == [{"sent_by": name}]  # boto3 works and reaches the local AWS
