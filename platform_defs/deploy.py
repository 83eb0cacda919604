"""`baton deploy`: package `lambda_workers/` and create or update the chain function.

The workers need only the standard library and boto3 (which the Lambda Python runtime ships),
so the zip holds just our package's source: no byte-code caches (built for whichever Python made
them, and rebuilt by Lambda anyway), no tests, no editor or hidden files. `.importlinter` keeps the
package from importing anything the runtime lacks, and the local Lambda service runs the zip in
an interpreter that has nothing else, so a missing module fails the tests as it would on AWS.

Asynchronous retries are set to 2, with an on-failure destination: an SQS queue
(`<function>-failures`, created here if missing). Links are idempotent (a retried
link re-runs from its last commit, and the lease fence turns a second copy into a duplicate), so
a retry either finishes the link or, when the dead attempt still holds the lease, fails again;
once the retries are spent Lambda sends the invocation record to the queue, where the watchdog
sensor (`platform_defs.automation.watchdog`) breaks the lease and resumes the chain. Recursion is
set to Allow, or Lambda stops a relay chain after about 16 hops.
"""

from __future__ import annotations

import fnmatch
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lambda_workers
from platform_defs.chain_clients import aws_client
from platform_defs.settings import AwsSettings

__all__ = ["HANDLER", "PACKAGE_DIR", "DeployResult", "build_zip", "deploy_chain_function"]

HANDLER = "lambda_workers.handler.lambda_handler"
RUNTIME = "python3.11"
PACKAGE_DIR = Path(lambda_workers.__file__).parent
ASYNC_RETRIES = 2  # Lambda's maximum
FAILURE_RETENTION_SECONDS = 14 * 24 * 3600  # SQS's maximum: a failure outlives a long Dagster outage
#: Names that never belong in the function: caches, tests, and hidden files (editor locks, checkpoints).
_LEFT_OUT = ("__pycache__", "tests", "test_*.py", "*_test.py", "conftest.py", ".*")


@dataclass(frozen=True)
class DeployResult:
    function_name: str
    created: bool
    code_sha256: str
    zip_bytes: int
    failure_queue_url: str


def _package_files(package: Path) -> list[Path]:
    """The package's source files, sorted, relative to the directory that holds the package."""
    files = []
    for path in package.rglob("*.py"):
        relative = path.relative_to(package.parent)
        if not any(fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in _LEFT_OUT):
            files.append(relative)
    return sorted(files)


def build_zip(package: Path = PACKAGE_DIR) -> bytes:
    """The worker package (or a copy of it) as a zip with fixed timestamps: the same code gives the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative in _package_files(package):
            path = package.parent / relative
            info = zipfile.ZipInfo(relative.as_posix(), date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def deploy_chain_function(
    client: Any,
    function_name: str,
    role_arn: str,
    *,
    timeout: int = 900,
    memory_mb: int = 512,
    environment: dict[str, str] | None = None,
) -> DeployResult:
    """Create or update the function, its failure queue (in the client's region) and its asynchronous settings."""
    code = build_zip()
    config: dict[str, Any] = {
        "Handler": HANDLER,
        "Timeout": timeout,
        "MemorySize": memory_mb,
        "Environment": {"Variables": environment or {}},
    }
    try:
        client.get_function(FunctionName=function_name)
    except client.exceptions.ResourceNotFoundException:
        response = client.create_function(
            FunctionName=function_name, Runtime=RUNTIME, Role=role_arn, Code={"ZipFile": code}, **config
        )
        created = True
    else:
        response = client.update_function_code(FunctionName=function_name, ZipFile=code)
        client.get_waiter("function_updated_v2").wait(FunctionName=function_name)
        client.update_function_configuration(FunctionName=function_name, Role=role_arn, **config)
        created = False
    client.get_waiter("function_active_v2").wait(FunctionName=function_name)
    client.get_waiter("function_updated_v2").wait(FunctionName=function_name)
    sqs = aws_client(AwsSettings(client.meta.region_name), "sqs")
    queue_url, queue_arn = _failure_queue(sqs, f"{function_name}-failures")
    client.put_function_event_invoke_config(
        FunctionName=function_name,
        MaximumRetryAttempts=ASYNC_RETRIES,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    client.put_function_recursion_config(FunctionName=function_name, RecursiveLoop="Allow")
    return DeployResult(function_name, created, response["CodeSha256"], len(code), queue_url)


def _failure_queue(sqs: Any, name: str) -> tuple[str, str]:
    """The queue's URL and ARN, creating it if missing (an existing queue keeps its own attributes)."""
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        attributes = {"MessageRetentionPeriod": str(FAILURE_RETENTION_SECONDS)}
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return str(url), str(arn)
