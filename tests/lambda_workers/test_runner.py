"""The relay-chain runner on real S3 and SSM, driven link by link with real deadlines.

The source here is S3 feed files (one CSV per page), so these tests need nothing but the local
AWS; the vendor-API sources and the Lambda service have tests of their own.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from typing import Any

import pytest

from lambda_workers.chain.chunk_keys import ChunkKey
from lambda_workers.chain.chunks import ChunkWriter
from lambda_workers.chain.cursor_store import SsmCursorStore, parameter_name
from lambda_workers.chain.fence import LinkFence
from lambda_workers.chain.link_result import LinkResult
from lambda_workers.chain.runner import ChainRunner
from lambda_workers.chain.status import ChainMode, ChainStatus, LinkOutcome
from lambda_workers.events import parse_event
from lambda_workers.exceptions import ChainBusyError
from lambda_workers.handler import lambda_handler
from lambda_workers.sources import SourceContext, build_source
from tests.lambda_workers.conftest import DeadlineContext, PagesContext
from tests.raw_zone import raw_records

FIELDS = ["action_id", "symbol", "ex_date", "action_type", "ratio"]


def drop_files(s3: Any, bucket: str, first: int, count: int, rows: int = 5) -> set[str]:
    """Feed files `day-<n>.csv`, each with `rows` actions; returns every action_id written."""
    ids = set()
    for day in range(first, first + count):
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(FIELDS)
        for row in range(rows):
            action_id = f"A{day:04d}{row:02d}"
            ids.add(action_id)
            writer.writerow([action_id, f"SYM{row:05d}", f"2024-01-{1 + day % 28:02d}", "split", "2"])
        s3.put_object(Bucket=bucket, Key=f"landing/ca/day-{day:04d}.csv", Body=out.getvalue().encode())
    return ids


def event(deployment: str, bucket: str, **overrides: Any) -> dict[str, Any]:
    base = {
        "version": 1,
        "action": "start",
        "deployment": deployment,
        "chain": {"asset": "corporate_actions", "partition": "all"},
        "mode": "driven",
        "max_links": 200,
        "source": {"kind": "s3_feed", "bucket": bucket, "prefix": "landing/ca/", "format": "csv"},
        "sink": {"bucket": bucket, "prefix": "raw/vendor/corporate_actions/all"},
        "quarantine_prefix": "quarantine/vendor/corporate_actions/all",
        "validation": {"required": ["action_id", "symbol", "ratio"], "types": {"ratio": "number"}},
    }
    return {**base, **overrides}


def raw_ids(s3: Any, bucket: str, prefix: str = "raw/") -> list[str]:
    return [record["action_id"] for record in raw_records(s3, bucket, prefix)]


def follow(first: dict[str, Any], chain_id: str, link: int) -> dict[str, Any]:
    return {**first, "action": "continue", "chain_id": chain_id, "link": link}


def link(event: dict[str, Any], pages: int) -> LinkResult:
    """One link with time for at most `pages` pages (one feed file each), read back as a driver reads it."""
    return LinkResult.from_payload(lambda_handler(event, PagesContext(60_000, pages=pages)))


def follow_on(first: dict[str, Any], result: LinkResult) -> dict[str, Any]:
    """The event of the link after `result`."""
    assert result.chain_id is not None
    return follow(first, result.chain_id, result.link + 1)


def drive(first: dict[str, Any], pages: int, after: LinkResult | None = None, limit: int = 500) -> list[LinkResult]:
    """Dagster's driven mode in miniature: start (or go on `after` a link), continue until it stops."""
    results = [after or link(first, pages)]
    while results[-1].status == ChainStatus.RUNNING:
        assert len(results) < limit, "the chain did not finish"
        results.append(link(follow_on(first, results[-1]), pages))
    return results


def test_many_short_links_reproduce_the_source_exactly(s3: Any, ssm: Any, bucket: str, deployment: str) -> None:
    expected = drop_files(s3, bucket, 0, 40)
    results = drive(event(deployment, bucket), pages=5)
    final = results[-1]
    assert final.status == ChainStatus.DONE and final.outcome == LinkOutcome.EXHAUSTED
    assert len(results) >= 8, "40 files, at most 5 a link"
    assert all(r.link_pages <= 5 for r in results)
    ids = raw_ids(s3, bucket)
    assert sorted(ids) == sorted(expected)
    assert final.rows == len(expected) == 200
    assert final.link == len(results)
    assert final.cursor == {"after_key": "landing/ca/day-0039.csv"}
    history = SsmCursorStore(ssm).history(deployment, parse_event(event(deployment, bucket)).chain)
    assert [record.link for record in history] == list(range(1, len(results) + 1))
    assert all(r.mode == ChainMode.DRIVEN and r.memory_mb == 256 and r.last_request_id for r in history)


class Killed(BaseException):
    """Stands for the process dying: nothing after the raise runs, as after a SIGKILL."""


class DyingWriter(ChunkWriter):
    def __init__(self, client: Any, bucket: str, die_on_write: int):
        super().__init__(client, bucket)
        self._writes_left = die_on_write

    def write(self, chunk: ChunkKey, body: bytes) -> None:
        if self._writes_left == 0:
            raise Killed
        self._writes_left -= 1
        super().write(chunk, body)


class DyingStore(SsmCursorStore):
    def __init__(self, client: Any, die_after_commit: bool):
        super().__init__(client)
        self._after = die_after_commit

    def _put_value(self, name: str, value: str) -> None:
        if not self._after:
            raise Killed
        super()._put_value(name, value)
        raise Killed


@pytest.mark.parametrize(
    "kill_point",
    ["before the first write", "after a write, before the commit", "before the commit", "after the commit"],
)
def test_a_link_killed_at_each_point_is_rerun_without_loss_or_duplicates(
    kill_point: str, s3: Any, ssm: Any, bucket: str, deployment: str
) -> None:
    expected = drop_files(s3, bucket, 0, 12)
    first = event(deployment, bucket)
    # Link 1 runs normally and stops early, its time spent after 3 of 12 files.
    started = link(first, pages=3)
    assert started.status == ChainStatus.RUNNING
    retried = follow_on(first, started)
    writer = ChunkWriter(s3, bucket)
    store = SsmCursorStore(ssm)
    if kill_point == "before the first write":
        writer = DyingWriter(s3, bucket, die_on_write=0)
    elif kill_point == "after a write, before the commit":
        writer = DyingWriter(s3, bucket, die_on_write=2)
    else:
        store = DyingStore(ssm, die_after_commit=kill_point == "after the commit")
    link_event = parse_event(retried)
    source = build_source(link_event.source, SourceContext(secrets=None, s3=s3, remaining_seconds=lambda: 1.0))
    dying = PagesContext(60_000, pages=3)
    fence = LinkFence(s3, bucket, deployment)
    with pytest.raises(Killed):
        ChainRunner(store, writer, fence).run_link(link_event, source, dying)
    # The driver saw the link die (a FunctionError), so it breaks the dead attempt's lease; then
    # the same link event is delivered again (a retry), and the chain runs to its end.
    fence.break_held_by(link_event.chain, dying.aws_request_id)
    results = drive(first, pages=3, after=link(retried, pages=3))
    assert results[-1].status == ChainStatus.DONE
    ids = raw_ids(s3, bucket)
    assert len(ids) == len(set(ids)), "a chunk was duplicated"
    assert set(ids) == expected
    assert results[-1].rows == len(expected)


def test_a_duplicate_or_superseded_event_does_nothing(s3: Any, bucket: str, deployment: str) -> None:
    drop_files(s3, bucket, 0, 60)  # more than two 5-page links read, so the chain is still running
    first = event(deployment, bucket)
    link1 = link(first, pages=5)
    link2 = link(follow_on(first, link1), pages=5)
    again = link(follow_on(first, link1), pages=5)
    assert again.outcome == LinkOutcome.DUPLICATE and again.rows == link2.rows and again.link == 2
    stranger = link(follow(first, "someone-else", 3), pages=5)
    assert stranger.outcome == LinkOutcome.SUPERSEDED


def test_the_halt_flag_stops_the_chain_within_one_link(s3: Any, ssm: Any, bucket: str, deployment: str) -> None:
    drop_files(s3, bucket, 0, 60)  # more than one 5-page link reads
    first = event(deployment, bucket)
    link1 = link(first, pages=5)
    SsmCursorStore(ssm).set_halt(deployment, parse_event(first).chain, True)
    halted = link(follow_on(first, link1), pages=5)
    assert halted.status == ChainStatus.HALTED and halted.rows == link1.rows
    restarted = link(first, pages=5)
    assert restarted.outcome == LinkOutcome.HALTED, "a start does not override a halt: Dagster clears it first"
    SsmCursorStore(ssm).set_halt(deployment, parse_event(first).chain, False)
    resumed = drive(first, pages=20)
    assert resumed[0].chain_id == link1.chain_id, "a halted chain resumes where it stood"
    assert resumed[-1].status == ChainStatus.DONE and resumed[-1].rows == 300


def test_max_links_stops_a_runaway(s3: Any, bucket: str, deployment: str) -> None:
    drop_files(s3, bucket, 0, 20)  # more than three 5-page links read
    results = drive(event(deployment, bucket, max_links=3), pages=5)
    assert results[-1].status == ChainStatus.FAILED
    assert results[-1].outcome == LinkOutcome.MAX_LINKS
    assert "max_links 3 reached" in (results[-1].last_error or "")
    assert results[-1].link == 3


def test_a_running_chain_refuses_a_second_start(s3: Any, bucket: str, deployment: str) -> None:
    drop_files(s3, bucket, 0, 20)
    first = event(deployment, bucket)
    link(first, pages=5)
    with pytest.raises(ChainBusyError, match="still running"):
        lambda_handler(first, DeadlineContext(5000))


def test_incremental_run_reads_only_new_files(s3: Any, bucket: str, deployment: str) -> None:
    first_ids = drop_files(s3, bucket, 0, 5)
    one = drive(event(deployment, bucket), pages=1000)
    assert one[-1].status == ChainStatus.DONE and one[-1].rows == 25
    new_ids = drop_files(s3, bucket, 5, 3)
    two = drive(event(deployment, bucket), pages=1000)
    assert two[-1].chain_id != one[-1].chain_id
    assert two[-1].rows == 15
    assert set(raw_ids(s3, bucket, f"raw/vendor/corporate_actions/all/{two[-1].chain_id}")) == new_ids
    assert set(raw_ids(s3, bucket)) == first_ids | new_ids
    full = drive(event(deployment, bucket, full_refresh=True), pages=1000)
    assert full[-1].rows == 40


def test_bad_records_are_quarantined_with_the_reason_and_counted(s3: Any, bucket: str, deployment: str) -> None:
    body = "action_id,symbol,ex_date,action_type,ratio\nA1,SYM1,2024-01-02,split,2\nA2,,2024-01-02,split,2\n"
    body += "A3,SYM3,2024-01-02,split,two\nA4,SYM4,2024-01-02,split,3,surplus\n"
    s3.put_object(Bucket=bucket, Key="landing/ca/day-0001.csv", Body=body.encode())
    result = drive(event(deployment, bucket), pages=1000)[-1]
    assert (result.rows, result.quarantined) == (4, 3)
    assert sorted(raw_ids(s3, bucket)) == ["A1", "A2", "A3", "A4"], "raw keeps every record as delivered"
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="quarantine/")["Contents"]
    assert len(listing) == 1
    assert result.chain_id is not None
    quarantine = ChunkKey("quarantine/vendor/corporate_actions/all", result.chain_id, 0, 4)
    assert ChunkKey.parse(listing[0]["Key"]) == quarantine, "the page's rejects under the raw chunk's rows"
    lines = gzip.decompress(s3.get_object(Bucket=bucket, Key=listing[0]["Key"])["Body"].read()).splitlines()
    reasons = {json.loads(line)["record"]["action_id"]: json.loads(line)["reason"] for line in lines}
    assert reasons == {
        "A2": "field 'symbol' is missing or empty",
        "A3": "field 'ratio' is 'two', not a number",
        "A4": "the row has more fields than the header: ['surplus']",
    }


def test_a_chain_committed_by_the_previous_record_version_carries_on(
    s3: Any, ssm: Any, bucket: str, deployment: str
) -> None:
    """A record as the workers before `CursorRecord.version` left it, two feed files in: the next link goes on."""
    drop_files(s3, bucket, 0, 2)
    after_the_cursor = drop_files(s3, bucket, 2, 2)
    first = event(deployment, bucket)
    chain_id = "20250101T000000Z-old00001"
    old_record = (
        '{"billed_ms":900,"bytes":300,"chain_id":"' + chain_id + '","chunks":2,"commit_ms":8.0,'
        '"cursor":{"after_key":"landing/ca/day-0001.csv"},'
        '"extra":{"last_request_id":"0f1e2d3c","memory_mb":512,"mode":"driven"},"last_error":null,"link":1,'
        '"page_ms":30.0,"prefix":"raw/vendor/corporate_actions/all/' + chain_id + '","quarantined":0,"rows":10,'
        '"started_at":"2025-01-01T00:00:00+00:00","status":"running","total":null,'
        '"updated_at":"2025-01-01T00:00:05+00:00","window_closed":false}'
    )
    ssm.put_parameter(Name=parameter_name(deployment, parse_event(first).chain), Value=old_record, Type="String")
    result = link(follow(first, chain_id, 2), pages=1000)
    assert (result.status, result.chain_id, result.link, result.rows) == (ChainStatus.DONE, chain_id, 2, 20)
    assert set(raw_ids(s3, bucket)) == after_the_cursor, "the files after the old record's cursor, no others"
    record, _ = SsmCursorStore(ssm).load(deployment, parse_event(first).chain)
    assert record is not None and record.memory_mb == 256 and record.billed_ms > 900
