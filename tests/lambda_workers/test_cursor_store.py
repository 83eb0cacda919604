"""The cursor record in real SSM: round trip, history, halt flag, versions, and records that must not parse."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from lambda_workers.chain.cursor_store import (
    RECORD_LIMIT_BYTES,
    RECORD_VERSION,
    CursorRecord,
    SsmCursorStore,
    parameter_name,
)
from lambda_workers.chain.status import ChainMode, ChainStatus, Refresh
from lambda_workers.events import ChainAddress
from lambda_workers.exceptions import CursorRecordError

CHAIN = ChainAddress("prices", "2024-01-02", "s02-of-04")


def test_commit_load_and_history(ssm: Any, deployment: str) -> None:
    store = SsmCursorStore(ssm)
    assert store.load(deployment, CHAIN) == (None, False)
    for link in (1, 2, 3):
        store.commit(
            deployment,
            CHAIN,
            CursorRecord(chain_id="c1", status=ChainStatus.RUNNING, cursor={"offset": link * 10}, link=link),
        )
    record, halted = store.load(deployment, CHAIN)
    assert record is not None and record.cursor == {"offset": 30} and not halted
    assert [r.link for r in store.history(deployment, CHAIN)] == [1, 2, 3]
    assert parameter_name(deployment, CHAIN) == f"/baton/{deployment}/chains/prices/2024-01-02/s02-of-04"


def test_halt_flag_is_separate_from_the_record(ssm: Any, deployment: str) -> None:
    store = SsmCursorStore(ssm)
    store.commit(deployment, CHAIN, CursorRecord(chain_id="c1", status=ChainStatus.RUNNING, cursor={}))
    store.set_halt(deployment, CHAIN, True)
    store.commit(deployment, CHAIN, CursorRecord(chain_id="c1", status=ChainStatus.RUNNING, cursor={"offset": 5}))
    assert store.load(deployment, CHAIN)[1] is True
    store.set_halt(deployment, CHAIN, False)
    store.set_halt(deployment, CHAIN, False)
    assert store.load(deployment, CHAIN)[1] is False


def test_records_of_one_asset_leave_out_the_other_assets(ssm: Any, deployment: str) -> None:
    store = SsmCursorStore(ssm)
    chains = [CHAIN, ChainAddress("prices", "2024-01-03"), ChainAddress("prices_intraday", "2024-01-02")]
    for chain in chains:
        store.commit(deployment, chain, CursorRecord(chain_id=chain.path(), status=ChainStatus.DONE, cursor={}))
    assert sorted(chain.path() for chain, _ in store.records(deployment)) == sorted(c.path() for c in chains)
    assert sorted(chain.path() for chain, _ in store.records(deployment, "prices")) == sorted(
        c.path() for c in chains[:2]
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("{not json", "is not JSON"),
        ('["a"]', "is not a JSON object"),
        ('{"chain_id": "c", "cursor": {}}', "lacks the field 'status'"),
        ('{"chain_id": "c", "status": "paused", "cursor": {}}', "has status 'paused'"),
        ('{"chain_id": "c", "status": "running", "cursor": 5}', "cursor that is not a JSON object"),
        ('{"chain_id": "c", "status": "running", "cursor": {}, "colour": 1}', "unknown fields ['colour']"),
        ('{"chain_id": "c", "status": "absent", "cursor": {}}', "has status 'absent'"),
        ('{"chain_id": "c", "status": "running", "cursor": {}, "mode": "fast", "version": 2}', "has mode 'fast'"),
        ('{"chain_id": "c", "status": "running", "cursor": {}, "version": "2"}', "has version '2'"),
        (
            '{"chain_id": "c", "status": "running", "cursor": {}, "refresh": "partial", "version": 4}',
            "has refresh 'partial'",
        ),
        ('{"chain_id": "c", "status": "running", "cursor": {}, "version": 2, "extra": {}}', "unknown fields ['extra']"),
        ('{"chain_id": "c", "status": "running", "cursor": {}, "extra": {"colour": 1}}', "unknown extra fields"),
        ('{"chain_id": "c", "status": "running", "cursor": {}, "extra": []}', "extra that is not a JSON object"),
        ('{"chain_id": "c", "status": "running", "cursor": {}, "mode": "relay"}', "no version but"),
    ],
)
def test_a_record_that_does_not_parse_is_an_error_not_a_restart(
    ssm: Any, deployment: str, value: str, problem: str
) -> None:
    ssm.put_parameter(Name=parameter_name(deployment, CHAIN), Value=value, Type="String")
    with pytest.raises(CursorRecordError, match=re.escape(problem)) as raised:
        SsmCursorStore(ssm).load(deployment, CHAIN)
    assert parameter_name(deployment, CHAIN) in str(raised.value)


def test_a_record_over_4_kb_is_refused_before_the_put(ssm: Any, deployment: str) -> None:
    record = CursorRecord(chain_id="c1", status=ChainStatus.RUNNING, cursor={"token": "x" * 5000})
    with pytest.raises(CursorRecordError, match="over the 4096-byte limit") as raised:
        SsmCursorStore(ssm).commit(deployment, CHAIN, record)
    assert str(raised.value).startswith(f"cursor record {parameter_name(deployment, CHAIN)}: would be 5")
    assert SsmCursorStore(ssm).load(deployment, CHAIN) == (None, False)


# A record as the version before `version` committed it (its `to_json`, byte for byte).
VERSION_1_RECORD = (
    '{"billed_ms":1200,"bytes":640,"chain_id":"20250101T000000Z-old00001","chunks":3,"commit_ms":12.5,'
    '"cursor":{"offset":15},"extra":{"last_request_id":"0f1e2d3c","memory_mb":512,"mode":"relay"},'
    '"last_error":null,"link":1,"page_ms":40.0,"prefix":"raw/vendor/prices/2024-01-02/20250101T000000Z-old00001",'
    '"quarantined":0,"rows":15,"started_at":"2025-01-01T00:00:00+00:00","status":"running","total":3000,'
    '"updated_at":"2025-01-01T00:00:05+00:00","window_closed":false}'
)


def test_a_record_of_the_previous_version_reads_with_its_extra_as_fields(ssm: Any, deployment: str) -> None:
    name = parameter_name(deployment, CHAIN)
    ssm.put_parameter(Name=name, Value=VERSION_1_RECORD, Type="String")
    store = SsmCursorStore(ssm)
    record, _ = store.load(deployment, CHAIN)
    assert record is not None
    assert (record.mode, record.memory_mb, record.last_request_id) == (ChainMode.RELAY, 512, "0f1e2d3c")
    assert (record.status, record.link, record.rows, record.total) == (ChainStatus.RUNNING, 1, 15, 3000)
    assert (record.cursor, record.page_ms, record.commit_ms, record.billed_ms) == ({"offset": 15}, 40.0, 12.5, 1200)
    store.commit(deployment, CHAIN, record)
    rewritten = json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    assert rewritten["version"] == RECORD_VERSION and "extra" not in rewritten
    assert rewritten["mode"] == "relay" and rewritten["memory_mb"] == 512
    assert store.load(deployment, CHAIN) == (record, False)


def test_a_record_of_a_newer_version_is_refused_naming_the_parameter_and_version(ssm: Any, deployment: str) -> None:
    name = parameter_name(deployment, CHAIN)
    newer = {"version": RECORD_VERSION + 1, "chain_id": "c1", "status": "running", "cursor": {}, "colour": "new"}
    ssm.put_parameter(Name=name, Value=json.dumps(newer), Type="String")
    with pytest.raises(CursorRecordError) as raised:
        SsmCursorStore(ssm).load(deployment, CHAIN)
    message = str(raised.value)
    assert name in message and f"version {RECORD_VERSION + 1}" in message and f"version {RECORD_VERSION}" in message
    assert "delete" not in message, "the remedy is the newer code, not losing the record"
    assert raised.value.parameter == name


def test_a_record_with_every_field_set_stays_under_the_limit() -> None:
    """A long-running chain's record: big counters, a long cursor and error, every optional field set."""
    record = CursorRecord(
        chain_id="20250101T000000.000000Z-0123abcd",
        status=ChainStatus.FAILED,
        cursor={"next_token": "t" * 512, "offset": 10**12},
        link=10**6,
        rows=10**12,
        bytes=10**13,
        chunks=10**6,
        quarantined=10**9,
        started_at="2025-01-01T00:00:00.000000+00:00",
        updated_at="2025-01-01T23:59:59.999999+00:00",
        last_error="SourceError: " + "e" * 988,  # the runner keeps at most 1,000 characters
        total=10**12,
        billed_ms=10**12,
        page_ms=899_999.9,
        commit_ms=899_999.9,
        prefix="raw/vendor/intraday_prices/2025-01-01/s01-of-04/20250101T000000.000000Z-0123abcd",
        mode=ChainMode.RELAY,
        memory_mb=10_240,
        last_request_id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        restarts=5,
        previous_chain_id="20241231T000000.000000Z-0123abcd",
        refresh=Refresh.INCREMENTAL,
    )
    assert len(record.to_json().encode()) < RECORD_LIMIT_BYTES
