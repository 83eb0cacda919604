"""Chains as they run for real: the deployed worker zip in the local Lambda service, the vendor
API as the source, S3 and SSM on moto. Link deadlines are 1 s, so every chain spans many links."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from lambda_workers.chain.cursor_store import SsmCursorStore
from lambda_workers.chain.link_result import LinkResult
from lambda_workers.chain.status import ChainStatus
from lambda_workers.events import ChainAddress
from lambda_workers.exceptions import EventError, LinkDiedError, error_from_payload
from local_stack.stack import VENDOR_SECRET_PARAMETER, LocalStack
from platform_defs.chain_clients import lambda_client
from platform_defs.datasets import DATASETS, VendorEndpoint
from platform_defs.deploy import deploy_chain_function
from platform_defs.settings import load_settings
from tests.chain_functions import deploy_test_function
from tests.raw_zone import raw_records
from tests.vendor_admin import vendor_admin


@pytest.fixture(scope="module")
def function(local_stack: LocalStack) -> str:
    return deploy_test_function("chain", timeout=1)


@pytest.fixture
def vendor(local_stack: LocalStack) -> Iterator[str]:
    yield local_stack.environment()["BATON_VENDOR_MARKETS_BASE_URL"]
    vendor_admin(local_stack, "/admin/reset", {})


def prices_event(
    vendor: str, bucket: str, deployment: str, mode: str, days: tuple[str, str], page: int
) -> dict[str, Any]:
    dataset = DATASETS["prices"]
    source = dataset.source_config(VendorEndpoint(vendor, VENDOR_SECRET_PARAMETER), bucket, days[0], page)
    source["params"] = {"from": days[0], "to": days[1]}
    return {
        "version": 1,
        "action": "start",
        "deployment": deployment,
        "mode": mode,
        "max_links": 200,
        "chain": {"asset": "prices", "partition": days[0]},
        "source": source,
        "sink": {"bucket": bucket, "prefix": dataset.raw_prefix(days[0])},
        "quarantine_prefix": dataset.quarantine_prefix(days[0]),
        "validation": dataset.validation,
    }


def raw_keys(s3: Any, bucket: str) -> list[tuple[str, str]]:
    return [(r["symbol"], r["date"]) for r in raw_records(s3, bucket, "raw/")]


def test_driven_chain_of_short_links_reproduces_the_source_exactly(
    local_stack: LocalStack, function: str, vendor: str, bucket: str, deployment: str, s3: Any
) -> None:
    # 30 pages at 80 ms of vendor latency each: 2.4 s that no machine can do faster, so 1-second
    # links need at least three, however fast the machine (a slower one needs more).
    vendor_admin(local_stack, "/admin/knobs", {"latency_ms": 80})
    client = lambda_client(load_settings().aws)
    event = prices_event(vendor, bucket, deployment, "driven", ("2025-06-02", "2025-06-06"), page=500)
    results = []
    while True:
        response = client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        payload = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, payload
        result = LinkResult.from_payload(payload)
        results.append(result)
        if result.status != ChainStatus.RUNNING:
            break
        event = {**event, "action": "continue", "chain_id": result.chain_id, "link": result.link + 1}
    keys = raw_keys(s3, bucket)
    assert results[-1].status == ChainStatus.DONE
    assert len(results) >= 3, "1-second links cannot carry 2.4 s of vendor latency"
    assert len(keys) == len(set(keys)) == results[-1].total == results[-1].rows == 15_000
    assert set(Counter(date for _, date in keys).values()) == {3000}
    assert all(r.link_ms < 1000 for r in results), "every link stopped before its deadline"


def test_a_bad_event_comes_back_from_lambda_as_its_named_error(
    function: str, vendor: str, bucket: str, deployment: str
) -> None:
    event = {**prices_event(vendor, bucket, deployment, "driven", ("2025-06-02", "2025-06-02"), page=500), "version": 2}
    response = lambda_client(load_settings().aws).invoke(FunctionName=function, Payload=json.dumps(event).encode())
    assert response["FunctionError"] == "Unhandled"
    error = error_from_payload(json.loads(response["Payload"].read()))
    assert isinstance(error, EventError) and error.field == "version" and error.permanent


def test_a_link_lambda_kills_at_its_deadline_comes_back_as_a_link_that_died(
    local_stack: LocalStack, function: str, vendor: str, bucket: str, deployment: str
) -> None:
    vendor_admin(local_stack, "/admin/knobs", {"latency_ms": 1500})  # a first page outlasting the 1 s link
    event = prices_event(vendor, bucket, deployment, "driven", ("2025-06-02", "2025-06-02"), page=500)
    response = lambda_client(load_settings().aws).invoke(FunctionName=function, Payload=json.dumps(event).encode())
    assert response["FunctionError"] == "Unhandled"
    error = error_from_payload(json.loads(response["Payload"].read()))
    assert isinstance(error, LinkDiedError) and error.error_type == "Sandbox.Timedout" and not error.permanent


def wait_for(chain: ChainAddress, deployment: str, seconds: float) -> Any:
    store = SsmCursorStore(boto3.client("ssm"))
    deadline = time.monotonic() + seconds
    last_link, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        record, _ = store.load(deployment, chain)
        if record is not None and record.status != ChainStatus.RUNNING:
            return record
        if record is not None and record.link != last_link:
            last_link, last_change = record.link, time.monotonic()
        if time.monotonic() - last_change > 6:
            return record  # stalled: the relay stopped handing on
        time.sleep(0.2)
    raise AssertionError(f"chain did not finish in {seconds} s")


@pytest.mark.slow
@pytest.mark.parametrize("recursion", ["Allow", "Terminate"])
def test_relay_mode_passes_16_hops_only_with_recursion_allow(
    recursion: str, local_stack: LocalStack, function: str, vendor: str, bucket: str, deployment: str, s3: Any
) -> None:
    client = lambda_client(load_settings().aws)
    client.put_function_recursion_config(FunctionName=function, RecursiveLoop=recursion)
    vendor_admin(local_stack, "/admin/knobs", {"latency_ms": 450})
    event = prices_event(vendor, bucket, deployment, "relay", ("2025-06-02", "2025-06-02"), page=120)
    try:
        client.invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps(event).encode())
        record = wait_for(ChainAddress("prices", "2025-06-02"), deployment, seconds=90)
    finally:
        client.put_function_recursion_config(FunctionName=function, RecursiveLoop="Allow")
    if recursion == "Allow":
        assert record.status == ChainStatus.DONE and record.link > 16
        keys = raw_keys(s3, bucket)
        assert len(keys) == len(set(keys)) == 3000
    else:
        assert record.status == ChainStatus.RUNNING and record.link <= 16, "Lambda stopped the loop"


def peak_rss_of_a_fresh_link(vendor: str, bucket: str, deployment: str, days: tuple[str, str]) -> tuple[float, int]:
    """One 60 s link in a new function (so a new process, whose peak RSS is this link's alone)."""
    settings = load_settings()
    client = lambda_client(settings.aws)
    name = f"rss-{uuid.uuid4().hex[:6]}"
    deploy_chain_function(client, name, settings.chains.role_arn, timeout=60, memory_mb=256)
    try:
        event = prices_event(vendor, bucket, deployment, "driven", days, page=5000)
        response = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
        payload = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, payload
        result = LinkResult.from_payload(payload)
        assert result.status == ChainStatus.DONE
        return result.max_rss_mb, result.rows
    finally:
        client.delete_function(FunctionName=name)


def test_a_links_peak_memory_stays_flat_as_the_extraction_grows(
    vendor: str, bucket: str, deployment: str, s3: Any
) -> None:
    small_rss, small_rows = peak_rss_of_a_fresh_link(vendor, bucket, deployment, ("2025-01-06", "2025-01-10"))
    large_rss, large_rows = peak_rss_of_a_fresh_link(vendor, bucket, deployment, ("2025-02-03", "2025-04-25"))
    assert large_rows >= 12 * small_rows
    assert large_rss <= 1.1 * small_rss, f"{small_rows} rows: {small_rss} MB; {large_rows} rows: {large_rss} MB"
    assert large_rss < 256
