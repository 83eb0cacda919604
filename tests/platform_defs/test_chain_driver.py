"""The driver reads a failed link's error back as its named type, and that type decides whether to retry."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from lambda_workers.events import ChainAddress
from lambda_workers.exceptions import EventError, LinkDiedError
from local_stack.stack import LocalStack
from platform_defs.chain_clients import aws_client
from platform_defs.datasets import DATASETS
from platform_defs.resources.build import build_resources
from platform_defs.resources.chains import ChainResource
from platform_defs.settings import load_settings
from tests.chain_functions import deploy_test_function
from tests.vendor_admin import vendor_admin


@pytest.fixture(scope="module")
def one_second_links(local_stack: LocalStack) -> str:
    return deploy_test_function("driver", timeout=1)


@pytest.fixture
def chains(one_second_links: str) -> ChainResource:
    """The platform's chain resource on the 1-second function, two attempts a link, a deployment of its own."""
    built = build_resources(load_settings())["chains"]
    overrides = {
        "function_name": one_second_links,
        "max_attempts_per_link": 2,
        "deployment": f"t{uuid.uuid4().hex[:8]}",
    }
    return type(built)(**{**built.model_dump(), **overrides})


def lake_bucket() -> str:
    """The platform's lake bucket, which holds the chains' leases: created here as first use would."""
    bucket = load_settings().lake_bucket
    s3 = aws_client(load_settings().aws, "s3")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def vendor(local_stack: LocalStack) -> Iterator[LocalStack]:
    vendor_admin(local_stack, "/admin/reset", {})
    yield local_stack
    vendor_admin(local_stack, "/admin/reset", {})


def price_requests(stack: LocalStack) -> int:
    url = stack.environment()["BATON_VENDOR_MARKETS_BASE_URL"] + "/admin/stats"
    with urllib.request.urlopen(url, timeout=5) as response:
        stats: dict[str, Any] = json.loads(response.read())
    return int(stats["requests"].get("prices", 0))


def test_a_bad_event_fails_the_drive_with_the_workers_event_error(chains: ChainResource) -> None:
    event = chains.start_event(DATASETS["prices"], ChainAddress("prices", "2025-06-02"), lake_bucket())
    with pytest.raises(dg.Failure) as raised:
        chains.drive(dataclasses.replace(event, source={"kind": "ftp"}), lambda result: None)
    cause = raised.value.__cause__
    assert isinstance(cause, EventError) and cause.field == "source.kind" and cause.permanent
    assert "failed: EventError: event field 'source.kind'" in (raised.value.description or "")
    assert json.loads(raised.value.metadata["error"].value)["errorType"] == "EventError"


def test_a_link_lambda_kills_is_retried_then_fails_as_a_link_that_died(
    chains: ChainResource, vendor: LocalStack
) -> None:
    vendor_admin(vendor, "/admin/knobs", {"latency_ms": 1500})  # every first page outlasts the 1 s link
    event = chains.start_event(DATASETS["prices"], ChainAddress("prices", "2025-06-02"), lake_bucket())
    with pytest.raises(dg.Failure) as raised:
        chains.drive(event, lambda result: None)
    cause = raised.value.__cause__
    assert isinstance(cause, LinkDiedError) and cause.error_type == "Sandbox.Timedout"
    assert "failed: LinkDiedError: Lambda ended the link (Sandbox.Timedout)" in (raised.value.description or "")
    assert price_requests(vendor) == chains.max_attempts_per_link, "one page request per attempt"
