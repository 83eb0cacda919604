"""The fence and the checkpoints on the real local S3 (conditional writes) and SSM.

Two copies of one link may run at once (an at-least-once delivery, a driver retrying while a slow
invoke still runs): exactly one may write, commit and hand on. A link commits at least every
`checkpoint_seconds`, so a kill loses no more than that.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from lambda_workers.chain.chunks import ChunkWriter
from lambda_workers.chain.cursor_store import CursorRecord, SsmCursorStore
from lambda_workers.chain.fence import LeaseLostError, LinkFence, LinkHeldError
from lambda_workers.chain.link_result import LinkResult
from lambda_workers.chain.runner import ChainRunner, new_chain_id
from lambda_workers.chain.status import ChainStatus, LinkOutcome
from lambda_workers.events import ChainAddress, LinkEvent, parse_event
from lambda_workers.exceptions import LinkBusyError
from lambda_workers.sources import SourceContext, build_source
from lambda_workers.sources.base import Source
from tests.lambda_workers.conftest import PagesContext
from tests.lambda_workers.test_runner import (
    DyingWriter,
    Killed,
    drive,
    drop_files,
    event,
    follow_on,
    link,
    raw_ids,
)

CHAIN = ChainAddress("corporate_actions", "all")


class MeetingStore(SsmCursorStore):
    """Both copies read the record before either goes on: the cursor record alone cannot tell them apart."""

    def __init__(self, client: Any, meeting: threading.Barrier):
        super().__init__(client)
        self._meeting = meeting

    def load(self, deployment: str, chain: ChainAddress) -> tuple[CursorRecord | None, bool]:
        loaded = super().load(deployment, chain)
        self._meeting.wait(timeout=30)
        return loaded


def feed_source(s3: Any, link_event: LinkEvent) -> Source:
    """The event's S3 feed source, as the handler builds it (no secrets: feed files need none)."""
    return build_source(link_event.source, SourceContext(secrets=None, s3=s3, remaining_seconds=lambda: 60.0))


def run(s3: Any, store: SsmCursorStore, bucket: str, deployment: str, body: dict[str, Any], pages: int) -> LinkResult:
    link_event = parse_event(body)
    source = feed_source(s3, link_event)
    runner = ChainRunner(store, ChunkWriter(s3, bucket), LinkFence(s3, bucket, deployment))
    return runner.run_link(link_event, source, PagesContext(60_000, pages=pages))


def test_two_copies_of_a_link_at_once_commit_once(s3: Any, ssm: Any, bucket: str, deployment: str) -> None:
    expected = drop_files(s3, bucket, 0, 20)
    first = event(deployment, bucket)
    link1 = link(first, pages=4)
    store = MeetingStore(ssm, threading.Barrier(2))
    copy = follow_on(first, link1)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: run(s3, store, bucket, deployment, copy, pages=4), range(2)))
    outcomes = sorted(r.outcome for r in results)
    assert outcomes == sorted([LinkOutcome.BUDGET_SPENT, LinkOutcome.DUPLICATE]), outcomes
    loser = next(r for r in results if r.outcome == LinkOutcome.DUPLICATE)
    assert loser.detail is not None and "is held by request" in loser.detail
    history = SsmCursorStore(ssm).history(deployment, CHAIN)
    assert [r.link for r in history] == [1, 2], "link 2 committed once"
    rest = drive(first, pages=4, after=link(follow_on(first, max(results, key=lambda r: r.link)), pages=4))
    assert rest[-1].status == ChainStatus.DONE
    ids = raw_ids(s3, bucket)
    assert len(ids) == len(set(ids)) and set(ids) == expected


def test_a_retry_of_the_same_request_meeting_its_dead_attempts_lease_fails_so_lambda_retries(
    s3: Any, ssm: Any, bucket: str, deployment: str
) -> None:
    drop_files(s3, bucket, 0, 10)
    first = event(deployment, bucket)
    link1 = link(first, pages=2)
    fence = LinkFence(s3, bucket, deployment)
    fence.claim(CHAIN, str(link1.chain_id), 2, "request-that-died", expires_at=4_000_000_000)
    body = follow_on(first, link1)
    link_event = parse_event(body)
    source = feed_source(s3, link_event)
    context = PagesContext(60_000, pages=2, aws_request_id="request-that-died")
    runner = ChainRunner(SsmCursorStore(ssm), ChunkWriter(s3, bucket), fence)
    with pytest.raises(LinkBusyError, match="held by request request-that-died"):
        runner.run_link(link_event, source, context)
    assert fence.break_held_by(CHAIN, "request-that-died"), "the platform, seeing the death, breaks the lease"
    assert link(body, pages=2).outcome == LinkOutcome.BUDGET_SPENT


def test_a_live_lease_is_never_taken_and_a_broken_one_only_by_its_holders_death(
    s3: Any, bucket: str, deployment: str
) -> None:
    fence = LinkFence(s3, bucket, deployment)
    held = fence.claim(CHAIN, "c1", 3, "a", expires_at=4_000_000_000)
    with pytest.raises(LinkHeldError, match="link 3 of chain c1 is held by request a"):
        fence.claim(CHAIN, "c1", 3, "b", expires_at=4_000_000_000)
    assert not fence.break_held_by(CHAIN, "b"), "only the dead holder's lease is broken"
    later = fence.claim(CHAIN, "c1", 4, "b", expires_at=4_000_000_000)  # link 3 committed and handed on
    with pytest.raises(LeaseLostError, match="link 4 of chain c1 is held by request b"):
        fence.renew(held, CHAIN, expires_at=4_000_000_001)  # the old holder can no longer commit
    superseding = fence.claim(CHAIN, "c2", 1, "c", expires_at=4_000_000_000)  # a full refresh's new chain
    assert superseding.chain_id == "c2" and later.etag != superseding.etag


def test_a_link_checkpoints_so_a_kill_loses_only_the_work_since(
    s3: Any, ssm: Any, bucket: str, deployment: str
) -> None:
    expected = drop_files(s3, bucket, 0, 12)
    first = event(deployment, bucket, checkpoint_seconds=1e-6)  # a checkpoint after every page
    link1 = link(first, pages=2)
    body = follow_on(first, link1)
    link_event = parse_event(body)
    source = feed_source(s3, link_event)
    fence = LinkFence(s3, bucket, deployment)
    dying = PagesContext(60_000, pages=6)
    runner = ChainRunner(SsmCursorStore(ssm), DyingWriter(s3, bucket, die_on_write=3), fence)
    with pytest.raises(Killed):
        runner.run_link(link_event, source, dying)
    record, _ = SsmCursorStore(ssm).load(deployment, CHAIN)
    assert record is not None and record.link == 1, "link 2 never finished"
    assert record.rows == link1.rows + 3 * 5, "but its three pages before the kill are committed"
    fence.break_held_by(CHAIN, dying.aws_request_id)
    results = drive(first, pages=6, after=link(body, pages=6))
    assert results[-1].status == ChainStatus.DONE
    ids = raw_ids(s3, bucket)
    assert len(ids) == len(set(ids)) and set(ids) == expected


def test_a_registered_chain_starts_under_the_id_its_driver_chose(
    s3: Any, ssm: Any, bucket: str, deployment: str
) -> None:
    expected = drop_files(s3, bucket, 0, 3)
    store = SsmCursorStore(ssm)
    chain_id = new_chain_id(datetime(2025, 6, 2, tzinfo=UTC))
    store.commit(deployment, CHAIN, CursorRecord(chain_id=chain_id, status=ChainStatus.PENDING, cursor={}))
    results = drive(event(deployment, bucket), pages=10)
    assert results[-1].chain_id == chain_id and results[-1].status == ChainStatus.DONE
    assert set(raw_ids(s3, bucket, f"raw/vendor/corporate_actions/all/{chain_id}")) == expected


class DyingRelay:
    """Dies as it hands on: the link's final commit stands, the next link was never invoked."""

    def send(self, event: dict[str, Any]) -> None:
        raise Killed


class RecordingRelay:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, event: dict[str, Any]) -> None:
        self.sent.append(event)


def test_a_retry_of_a_link_that_died_handing_on_hands_on_again(s3: Any, ssm: Any, bucket: str, deployment: str) -> None:
    drop_files(s3, bucket, 0, 10)
    first = event(deployment, bucket, mode="relay")
    fence = LinkFence(s3, bucket, deployment)
    start = parse_event(first)
    source = feed_source(s3, start)
    link1 = ChainRunner(SsmCursorStore(ssm), ChunkWriter(s3, bucket), fence, RecordingRelay()).run_link(
        start, source, PagesContext(60_000, pages=2)
    )
    link_event = parse_event(follow_on(first, link1))
    attempt = PagesContext(60_000, pages=2, aws_request_id="request-2")
    with pytest.raises(Killed):
        ChainRunner(SsmCursorStore(ssm), ChunkWriter(s3, bucket), fence, DyingRelay()).run_link(
            link_event, source, attempt
        )
    relay = RecordingRelay()
    retry = PagesContext(60_000, pages=2, aws_request_id="request-2")  # Lambda's retry keeps the request id
    result = ChainRunner(SsmCursorStore(ssm), ChunkWriter(s3, bucket), fence, relay).run_link(link_event, source, retry)
    assert result.outcome == LinkOutcome.DUPLICATE and result.link == 2
    assert [(sent["chain_id"], sent["link"]) for sent in relay.sent] == [(link1.chain_id, 3)]
    history = SsmCursorStore(ssm).history(deployment, CHAIN)
    assert [r.link for r in history] == [1, 2], "link 2 was not run again"


def test_a_halt_before_a_registered_chain_runs_leaves_its_registration(
    s3: Any, ssm: Any, bucket: str, deployment: str
) -> None:
    expected = drop_files(s3, bucket, 0, 3)
    store = SsmCursorStore(ssm)
    chain_id = new_chain_id(datetime(2025, 6, 2, tzinfo=UTC))
    registered = CursorRecord(chain_id=chain_id, status=ChainStatus.PENDING, cursor={})
    store.commit(deployment, CHAIN, registered)
    store.set_halt(deployment, CHAIN, True)
    assert link(event(deployment, bucket), pages=10).outcome == LinkOutcome.HALTED
    assert store.load(deployment, CHAIN)[0] == registered, "still pending, under the same id"
    store.set_halt(deployment, CHAIN, False)
    results = drive(event(deployment, bucket), pages=10)
    assert results[-1].chain_id == chain_id and results[-1].status == ChainStatus.DONE
    assert set(raw_ids(s3, bucket)) == expected


def test_a_relay_start_meeting_another_requests_live_lease_fails_so_it_is_retried(
    s3: Any, ssm: Any, bucket: str, deployment: str
) -> None:
    """A start is a relay chain's only driver: it must not end quietly as a duplicate."""
    drop_files(s3, bucket, 0, 10)
    link1 = link(event(deployment, bucket), pages=2)
    SsmCursorStore(ssm).mark_halted(deployment, CHAIN, "halted on request", "2025-06-02T00:00:00+00:00")
    fence = LinkFence(s3, bucket, deployment)
    fence.claim(CHAIN, str(link1.chain_id), 2, "an-attempt-that-died", expires_at=4_000_000_000)
    start = parse_event(event(deployment, bucket, mode="relay"))
    source = feed_source(s3, start)
    runner = ChainRunner(SsmCursorStore(ssm), ChunkWriter(s3, bucket), fence, RecordingRelay())
    with pytest.raises(LinkBusyError, match=r"held by request an-attempt-that-died.*this start waits for it to clear"):
        runner.run_link(start, source, PagesContext(60_000, pages=2))
