"""Fixtures shared by the platform tests."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest

from local_stack.stack import LocalStack


@pytest.fixture
def lake(local_stack: LocalStack) -> tuple[Any, str]:
    """A lake bucket of the test's own on the local S3, with its client."""
    s3 = boto3.client("s3")
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    return s3, bucket
