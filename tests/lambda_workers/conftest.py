"""Fixtures for the workers: real S3 and SSM on the session's local stack, a controlled context."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from local_stack.stack import LocalStack


@dataclass
class DeadlineContext:
    """A Lambda context with a real deadline the test chooses (as in Powertools' tests)."""

    timeout_ms: int
    aws_request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:baton-chain"
    function_name: str = "baton-chain"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class PagesContext(DeadlineContext):
    """A link with time for at most `pages` pages, however fast or slow the machine.

    The runner asks for the time left once to date its lease, then once before each page; this
    context answers "ample" that many times and "none" after, so how many pages a link reads is
    the test's choice, not the machine's.
    """

    pages: int = 1
    _asked: int = 0

    def get_remaining_time_in_millis(self) -> int:
        self._asked += 1
        return self.timeout_ms if self._asked <= 1 + self.pages else 0


@pytest.fixture(scope="session")
def s3(local_stack: LocalStack) -> Any:
    return boto3.client("s3")


@pytest.fixture(scope="session")
def ssm(local_stack: LocalStack) -> Any:
    return boto3.client("ssm")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"lake-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def deployment() -> str:
    """A deployment name of the test's own, so cursor parameters never collide across tests."""
    return f"t{uuid.uuid4().hex[:10]}"
