"""Chains recover by themselves: registration, Lambda's retries and destination, the watchdog, the driver.

Relay chains: links are killed for real. The runtime process of a link in flight gets SIGKILL
(as a lost host would), or the vendor outlasts the link's 2-second deadline; the local Lambda
service then does what Lambda does: retries the event twice (~1 s and ~2 s later) and sends the
invocation record to the function's on-failure queue once the retries are spent. Driven chains:
the driver loses the invoke's answer (a read timeout shorter than the link) or meets a copy
holding the link. Every wait is bounded and ends as soon as its condition holds; nothing asserts
how long anything took.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from botocore.config import Config

from lambda_workers.chain.cursor_store import CursorRecord
from lambda_workers.chain.fence import Lease
from lambda_workers.chain.link_result import LinkResult
from lambda_workers.chain.runner import new_chain_id
from lambda_workers.chain.status import ChainMode, ChainStatus, LinkOutcome
from lambda_workers.events import ChainAddress, LinkEvent
from local_stack.stack import LocalStack
from platform_defs.automation.watchdog import chain_watchdog
from platform_defs.chain_clients import aws_client, lambda_client
from platform_defs.cli import main
from platform_defs.datasets import DATASETS
from platform_defs.deploy import deploy_chain_function
from platform_defs.resources import chains as chains_module
from platform_defs.resources.build import build_resources
from platform_defs.resources.chains import ChainResource
from platform_defs.settings import load_settings
from tests.raw_zone import raw_records
from tests.vendor_admin import vendor_admin

ROWS = 3000  # one day of prices from the local vendor: six pages of 500


def deploy(name: str) -> str:
    settings = load_settings()
    deploy_chain_function(lambda_client(settings.aws), name, settings.chains.role_arn, timeout=2, memory_mb=256)
    return name


@pytest.fixture(scope="module")
def function(local_stack: LocalStack) -> str:
    """2-second links with Lambda's asynchronous retries and the on-failure queue, as `baton deploy` sets them."""
    return deploy(f"recovery-{uuid.uuid4().hex[:6]}")


@pytest.fixture
def resources(function: str) -> dict[str, Any]:
    """The sensor's resources, the chains in a deployment of the test's own (its records, leases, queue messages)."""
    built = build_resources(load_settings())
    overrides = {"function_name": function, "page_size": 500, "deployment": f"t{uuid.uuid4().hex[:8]}"}
    built["chains"] = type(built["chains"])(**{**built["chains"].model_dump(), **overrides})
    s3 = built["lake"].client()
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=built["lake"].bucket)  # as the lake resource does on first use
    return built


@pytest.fixture
def slow_vendor(local_stack: LocalStack) -> Iterator[LocalStack]:
    """400 ms a page: a 2-second link reads a few pages, so a chain spans several links."""
    vendor_admin(local_stack, "/admin/knobs", {"latency_ms": 400})
    yield local_stack
    vendor_admin(local_stack, "/admin/reset", {})


def with_chains(resources: dict[str, Any], **changes: Any) -> ChainResource:
    chains: ChainResource = resources["chains"]
    resources["chains"] = type(chains)(**{**chains.model_dump(), **changes})
    return resources["chains"]


def relay_event(resources: dict[str, Any], day: str) -> LinkEvent:
    chains: ChainResource = resources["chains"]
    return chains.start_event(
        DATASETS["prices"], ChainAddress("prices", day), resources["lake"].bucket, mode=ChainMode.RELAY
    )


def tick(resources: dict[str, Any]) -> dg.SensorResult | dg.SkipReason:
    names = ("chains", "lake", "notifier")
    with dg.build_sensor_context(resources={name: resources[name] for name in names}) as context:
        result = chain_watchdog(context)
    assert isinstance(result, dg.SensorResult | dg.SkipReason)
    return result


def load(resources: dict[str, Any], chain: ChainAddress) -> CursorRecord | None:
    chains: ChainResource = resources["chains"]
    return chains.store().load(chains.deployment, chain)[0]


def wait_until(condition: Callable[[], Any], seconds: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {seconds} s")


def watch_until_finished(
    resources: dict[str, Any], chain: ChainAddress, seconds: float = 50
) -> tuple[CursorRecord, list[dg.SensorResult | dg.SkipReason]]:
    """Tick the watchdog, as the daemon would (faster), until the chain is done or failed."""
    ticks: list[dg.SensorResult | dg.SkipReason] = []

    def finished() -> CursorRecord | None:
        ticks.append(tick(resources))
        record = load(resources, chain)
        return record if record is not None and record.status in (ChainStatus.DONE, ChainStatus.FAILED) else None

    return wait_until(finished, seconds, f"{chain.path()} finished", interval=0.2), ticks


def held(resources: dict[str, Any], chain: ChainAddress, link: int) -> Callable[[], Lease | None]:
    """A probe for a live lease on `link` of the chain: the link is in flight."""
    fence = resources["chains"].fence(resources["lake"].bucket)

    def probe() -> Lease | None:
        lease = fence.holder(chain)
        return lease if lease is not None and lease.link == link and lease.live(time.time()) else None

    return probe


def kill_runtimes(function: str) -> int:
    """SIGKILL every runtime process of `function` (found by its Lambda environment), as a lost host would."""
    marker = f"AWS_LAMBDA_FUNCTION_NAME={function}".encode()
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            variables = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in variables:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
    return killed


def raw_rows(resources: dict[str, Any], record: CursorRecord) -> list[tuple[str, str]]:
    """Every (symbol, date) in the chain's chunks in the raw zone."""
    records = raw_records(resources["lake"].client(), resources["lake"].bucket, record.prefix + "/")
    return [(row["symbol"], row["date"]) for row in records]


def assert_complete(resources: dict[str, Any], record: CursorRecord) -> None:
    assert record.status == ChainStatus.DONE, record
    rows = raw_rows(resources, record)
    assert record.rows == len(rows) == len(set(rows)) == ROWS, "every row exactly once in the raw zone"


def committed_links(resources: dict[str, Any], chain: ChainAddress) -> list[int]:
    """The link number of every commit in the record's SSM history (a 2-second link never checkpoints)."""
    chains: ChainResource = resources["chains"]
    return [record.link for record in chains.store().history(chains.deployment, chain)]


def test_a_relay_chain_whose_link_is_killed_mid_link_finishes_by_itself(
    resources: dict[str, Any], function: str, slow_vendor: LocalStack
) -> None:
    chain = ChainAddress("prices", "2025-05-12")
    resources["chains"].launch(relay_event(resources, "2025-05-12"))
    wait_until(held(resources, chain, 2), 30, "link 2 in flight")
    assert kill_runtimes(function) >= 1
    record, ticks = watch_until_finished(resources, chain)
    assert_complete(resources, record)
    assert record.restarts == 1, "Lambda's retries met the dead attempt's lease; the watchdog resumed the chain"
    assert record.last_error is not None and "LinkBusyError" in record.last_error, record.last_error
    assert any(isinstance(t, dg.SkipReason) and "resumed prices/2025-05-12" in (t.skip_message or "") for t in ticks)


def test_a_first_link_that_dies_before_committing_leaves_a_pending_chain_that_finishes(
    resources: dict[str, Any],
    function: str,
    slow_vendor: LocalStack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    chains: ChainResource = resources["chains"]
    chain = ChainAddress("prices", "2025-05-13")
    chains.launch(relay_event(resources, "2025-05-13"))
    wait_until(held(resources, chain, 1), 30, "link 1 in flight")
    assert kill_runtimes(function) >= 1
    pending = load(resources, chain)
    assert pending is not None and pending.status == ChainStatus.PENDING and pending.link == 0

    monkeypatch.setenv("BATON_DEPLOYMENT", chains.deployment)
    assert main(["chains", "list", "--asset", "prices"]) == 0
    listed = capsys.readouterr().out.splitlines()[1].split()
    assert listed[:4] == ["prices/2025-05-13", "pending", "relay", "0"], "visible before any link committed"

    record, _ = watch_until_finished(resources, chain)
    assert_complete(resources, record)
    assert record.chain_id == pending.chain_id, "the chain ran under the id it was registered with"
    assert record.restarts == 1


def sent_emails() -> list[dict[str, Any]]:
    """What moto's SES has accepted, from moto's own inspection endpoint."""
    with urllib.request.urlopen(os.environ["AWS_ENDPOINT_URL"] + "/moto-api/data.json", timeout=10) as response:
        return list(json.load(response).get("ses", {}).get("Message", []))


def test_past_max_restarts_the_chain_fails_with_a_failed_check_and_an_email(
    resources: dict[str, Any], local_stack: LocalStack
) -> None:
    chains = with_chains(resources, max_restarts=1)
    vendor_admin(local_stack, "/admin/knobs", {"latency_ms": 3000})  # every first page outlasts the 2 s link
    try:
        before = {message["id"] for message in sent_emails()}
        chain = ChainAddress("prices", "2025-05-14")
        chains.launch(relay_event(resources, "2025-05-14"))
        record, ticks = watch_until_finished(resources, chain)
    finally:
        vendor_admin(local_stack, "/admin/reset", {})
    parameter = f"/baton/{chains.deployment}/chains/prices/2025-05-14"
    assert record.status == ChainStatus.FAILED and record.restarts == 1
    assert record.last_error is not None and record.last_error.startswith("gave up after 1 restarts")
    checks = [e for t in ticks if isinstance(t, dg.SensorResult) for e in t.asset_events]
    assert len(checks) == 1
    [check] = checks
    assert isinstance(check, dg.AssetCheckEvaluation)
    assert (check.asset_key, check.check_name, check.passed) == (dg.AssetKey(["raw", "prices"]), "chain_healthy", False)
    assert "failed at link 0" in (check.description or "")
    [email] = [message for message in sent_emails() if message["id"] not in before]
    assert email["subject"] == "[baton] relay chain failed: prices/2025-05-14"
    assert parameter in email["body"] and "LinkBusyError" in email["body"], email["body"]
    assert email["destinations"]["ToAddresses"] == list(load_settings().alerts.recipients)


def test_duplicate_deliveries_never_double_a_relay_chains_links(
    resources: dict[str, Any], slow_vendor: LocalStack
) -> None:
    chains: ChainResource = resources["chains"]
    chain = ChainAddress("prices", "2025-05-15")
    event = relay_event(resources, "2025-05-15")
    chains.launch(event)
    first = wait_until(lambda: (r := load(resources, chain)) and r.link >= 1 and r, 30, "link 1 committed")
    assert first.status == ChainStatus.RUNNING, "the chain spans several links"
    copy = event.continuation(first.chain_id, first.link + 1)  # the relay sent it too: three copies at once
    senders = [threading.Thread(target=chains.invoke_async, args=(copy,)) for _ in range(2)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    record = wait_until(
        lambda: (r := load(resources, chain)) and r.status != ChainStatus.RUNNING and r, 60, "chain finished"
    )
    assert_complete(resources, record)
    assert committed_links(resources, chain) == list(range(record.link + 1)), "one commit per link, in order"
    assert record.restarts == 0


@pytest.fixture(scope="module")
def unreported_function(local_stack: LocalStack) -> str:
    """A function whose failed links Lambda neither retries nor reports: deaths only the record shows."""
    name = deploy(f"silent-{uuid.uuid4().hex[:6]}")
    client = lambda_client(load_settings().aws)
    client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    return name


def test_a_link_that_dies_unreported_is_resumed_once_its_chain_is_overdue(
    resources: dict[str, Any], unreported_function: str, slow_vendor: LocalStack
) -> None:
    chains = with_chains(resources, function_name=unreported_function, overdue_margin_seconds=5)
    assert chains.failure_queue_url() is None
    chain = ChainAddress("prices", "2025-05-16")
    chains.launch(relay_event(resources, "2025-05-16"))
    wait_until(held(resources, chain, 2), 30, "link 2 in flight")
    assert kill_runtimes(unreported_function) >= 1
    record, _ = watch_until_finished(resources, chain)
    assert_complete(resources, record)
    assert record.restarts >= 1
    history = resources["chains"].store().history(chains.deployment, chain)
    assert any((r.last_error or "").startswith("no commit for") for r in history)


def test_registration_commits_a_pending_chain_only_where_a_start_begins_one(resources: dict[str, Any]) -> None:
    chains: ChainResource = resources["chains"]
    store, deployment = chains.store(), chains.deployment
    now = datetime.now(UTC).isoformat()
    chain = ChainAddress("prices", "2025-05-19")
    event = relay_event(resources, "2025-05-19")

    pending = chains.register(event)
    assert pending.status == ChainStatus.PENDING and pending.mode == ChainMode.RELAY
    assert (pending.link, pending.previous_chain_id, pending.started_at) == (0, None, pending.updated_at)
    assert chains.register(event) == pending, "a pending chain is re-used"

    for status in (ChainStatus.RUNNING, ChainStatus.HALTED):
        record = CursorRecord("20250519T000000Z-live0001", status, {"offset": 500}, link=1, updated_at=now)
        store.commit(deployment, chain, record)
        assert chains.register(event) == record, f"a {status} chain is never overwritten"
        assert load(resources, chain) == record

    done = CursorRecord("20250519T000000Z-done0001", ChainStatus.DONE, {"offset": 3000}, link=6, updated_at=now)
    store.commit(deployment, chain, done)
    follower = chains.register(event)
    assert follower.status == ChainStatus.PENDING
    assert (follower.previous_chain_id, follower.cursor) == (done.chain_id, done.cursor), "incremental from it"

    closed = CursorRecord(done.chain_id, ChainStatus.DONE, {}, link=6, window_closed=True, updated_at=now)
    store.commit(deployment, chain, closed)
    assert chains.register(event) == closed, "nothing can have changed: the start skips"
    refresh = chains.register(dataclasses.replace(event, full_refresh=True))
    assert refresh.status == ChainStatus.PENDING
    assert (refresh.previous_chain_id, refresh.cursor) == (None, {}), "a full refresh starts from scratch"

    failed = CursorRecord("20250519T000000Z-fail0001", ChainStatus.FAILED, {}, restarts=5, updated_at=now)
    store.commit(deployment, chain, failed)
    resumed = chains.register(event)
    assert (resumed.status, resumed.restarts) == (ChainStatus.FAILED, 0)
    assert load(resources, chain) == resumed, "a failed chain started again gets its restarts back"


def test_deploy_sends_failed_links_to_a_queue_the_platform_finds(resources: dict[str, Any], function: str) -> None:
    settings = load_settings()
    client = lambda_client(settings.aws)
    config = client.get_function_event_invoke_config(FunctionName=function)
    assert config["MaximumRetryAttempts"] == 2
    url = resources["chains"].failure_queue_url()
    assert url is not None and url.endswith(f"/{function}-failures")
    again = deploy_chain_function(client, function, settings.chains.role_arn, timeout=2, memory_mb=256)
    assert again.failure_queue_url == url and not again.created, "a redeploy keeps the queue"
    arn = aws_client(settings.aws, "sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == arn["Attributes"]["QueueArn"]


def test_a_driver_whose_connection_drops_reads_each_links_result_from_the_record(
    resources: dict[str, Any], slow_vendor: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invokes lose their answer (a 1 s read timeout against 2 s links), as when a NAT gateway drops the connection.

    An answer lost before the link claimed its lease costs the driver an attempt (it cannot know
    whether the link started), and a cold start on a loaded machine can take longer than the
    read timeout: the function is warmed first, and the driver given attempts to spare.
    """
    settings = load_settings()
    warm = lambda_client(settings.aws).invoke(FunctionName=resources["chains"].function_name, Payload=b"{}")
    assert warm["StatusCode"] == 200, "a malformed event fails in the handler, in a now-warm environment"
    impatient = Config(read_timeout=1, connect_timeout=5, retries={"max_attempts": 0})
    monkeypatch.setattr(chains_module, "lambda_client", lambda aws: aws_client(aws, "lambda", impatient))
    chains = with_chains(resources, max_attempts_per_link=10)
    chain = ChainAddress("prices", "2025-05-20")
    event = chains.start_event(DATASETS["prices"], chain, settings.lake_bucket)
    results: list[LinkResult] = []
    final = chains.drive(event, results.append)
    record = load(resources, chain)
    assert record is not None
    assert_complete(resources, record)
    assert final.done and final.link == record.link and len(results) == record.link
    # The first link cannot finish the source (2.4 s of vendor latency), so it outlasts the read timeout;
    # a short last link may answer in time.
    assert (results[0].detail or "").startswith("recovered from the cursor record: the invoke's answer was lost")
    assert committed_links(resources, chain) == list(range(record.link + 1)), "no link ran twice"


def test_a_driver_meeting_a_copy_that_holds_the_link_waits_for_it_then_runs_it(
    resources: dict[str, Any], slow_vendor: LocalStack
) -> None:
    """The copy dies holding the lease (it expires, as a dead link's does), so the driver runs the link itself."""
    chains: ChainResource = resources["chains"]
    chain = ChainAddress("prices", "2025-05-21")
    event = chains.start_event(DATASETS["prices"], chain, resources["lake"].bucket)
    pending = chains.register(event)
    fence = chains.fence(resources["lake"].bucket)
    fence.claim(chain, pending.chain_id, 1, "a-copy-that-died", time.time() + 3)
    results: list[LinkResult] = []
    final = chains.drive(event, results.append)
    record = load(resources, chain)
    assert record is not None and record.chain_id == pending.chain_id
    assert_complete(resources, record)
    assert final.done and all(r.outcome != LinkOutcome.DUPLICATE for r in results)
    assert committed_links(resources, chain) == list(range(record.link + 1))


def stalled_chains_datapoints(deployment: str) -> list[dict[str, Any]]:
    """The deployment's Baton/StalledChains datapoints on the local CloudWatch, as one 2-hour bucket around now."""
    cloudwatch = aws_client(load_settings().aws, "cloudwatch")
    dimensions = [{"Name": "Deployment", "Value": deployment}]
    listed = cloudwatch.list_metrics(Namespace="Baton", MetricName="StalledChains", Dimensions=dimensions)
    assert [metric["Dimensions"] for metric in listed["Metrics"]] in ([], [dimensions]), "one dimension: Deployment"
    now = datetime.now(UTC)
    statistics = cloudwatch.get_metric_statistics(
        Namespace="Baton",
        MetricName="StalledChains",
        Dimensions=dimensions,
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(hours=1),
        Period=7200,
        Statistics=["Maximum", "SampleCount"],
    )
    return [{key: point[key] for key in ("SampleCount", "Maximum", "Unit")} for point in statistics["Datapoints"]]


def commit_relay_chain(
    resources: dict[str, Any], day: str, status: ChainStatus, silent_for: timedelta, **fields: Any
) -> ChainAddress:
    """A prices chain of the test's deployment whose last commit was `silent_for` ago."""
    chains: ChainResource = resources["chains"]
    chain = ChainAddress("prices", day)
    at = datetime.now(UTC) - silent_for
    record = CursorRecord(new_chain_id(at), status, {}, updated_at=at.isoformat(), mode=ChainMode.RELAY, **fields)
    chains.store().commit(chains.deployment, chain, record)
    return chain


def test_a_watchdog_tick_that_finds_nothing_publishes_zero_stalled_chains(resources: dict[str, Any]) -> None:
    with_chains(
        resources, overdue_margin_seconds=3600
    )  # the chain just committed is not overdue, however slow the tick
    commit_relay_chain(resources, "2025-06-02", ChainStatus.RUNNING, timedelta(0), link=1)
    result = tick(resources)
    assert isinstance(result, dg.SkipReason)
    assert result.skip_message == "no relay chain lost its link (StalledChains 0)"
    datapoints = stalled_chains_datapoints(resources["chains"].deployment)
    assert datapoints == [{"SampleCount": 1.0, "Maximum": 0.0, "Unit": "Count"}], "one datapoint a tick"


def test_a_watchdog_tick_publishes_how_many_chains_it_found_stalled(resources: dict[str, Any]) -> None:
    """Stalled: reported dead by Lambda and standing where it was left, or overdue; resumed or given up on.

    The overdue limit is an hour past the 2 s links and the stalled chains were silent for two
    days, so which chain is overdue does not depend on how fast the tick runs.
    """
    chains = with_chains(resources, overdue_margin_seconds=3600)
    long_ago = timedelta(days=2)
    commit_relay_chain(resources, "2025-06-03", ChainStatus.PENDING, long_ago)  # overdue: resumed
    out_of_restarts = {"link": 2, "restarts": chains.max_restarts}
    commit_relay_chain(resources, "2025-06-04", ChainStatus.RUNNING, long_ago, **out_of_restarts)  # given up on
    reported = commit_relay_chain(resources, "2025-06-05", ChainStatus.PENDING, timedelta(0))  # its start failed
    alive = commit_relay_chain(resources, "2025-06-06", ChainStatus.RUNNING, long_ago, link=1)  # its link holds on
    alive_record = load(resources, alive)
    assert alive_record is not None
    chains.fence(resources["lake"].bucket).claim(alive, alive_record.chain_id, 2, "a-live-link", time.time() + 3600)
    commit_relay_chain(resources, "2025-06-07", ChainStatus.RUNNING, timedelta(0), link=3)  # progressing
    commit_relay_chain(resources, "2025-06-08", ChainStatus.DONE, long_ago, link=6)
    url = chains.failure_queue_url()
    assert url is not None
    failure = {
        "requestContext": {
            "requestId": f"dead-{uuid.uuid4()}",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": relay_event(resources, reported.partition).to_dict(),
    }
    aws_client(load_settings().aws, "sqs").send_message(QueueUrl=url, MessageBody=json.dumps(failure))

    result = tick(resources)

    assert isinstance(result, dg.SensorResult) and len(result.asset_events) == 1, "2025-06-04 given up on"
    for day, restarts in (("2025-06-03", 1), ("2025-06-05", 1), ("2025-06-06", 0)):
        record = load(resources, ChainAddress("prices", day))
        assert record is not None and record.restarts == restarts, (day, record)
    datapoints = stalled_chains_datapoints(chains.deployment)
    assert datapoints == [{"SampleCount": 1.0, "Maximum": 3.0, "Unit": "Count"}], "two resumed, one given up on"


def test_a_watchdog_tick_that_cannot_publish_still_does_its_work(
    resources: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """CloudWatch answers only errors (its endpoint is the Lambda service's): the chain is still failed and reported."""
    chains: ChainResource = resources["chains"]
    chain = commit_relay_chain(
        resources, "2025-06-11", ChainStatus.RUNNING, timedelta(days=2), link=2, restarts=chains.max_restarts
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", os.environ["AWS_ENDPOINT_URL_LAMBDA"])
    result = tick(resources)
    assert isinstance(result, dg.SensorResult) and len(result.asset_events) == 1
    record = load(resources, chain)
    assert record is not None and record.status == ChainStatus.FAILED
    assert "Baton/StalledChains not published (ClientError" in capfd.readouterr().err, "the tick logs why"
    monkeypatch.delenv("AWS_ENDPOINT_URL_CLOUDWATCH")
    assert stalled_chains_datapoints(chains.deployment) == []
