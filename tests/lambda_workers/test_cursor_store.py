"""The cursor record in real SSM: round trip, history, halt flag, and records that must not parse."""

from __future__ import annotations

import re
from typing import Any

import pytest

from lambda_workers.chain.cursor_store import CursorRecord, SsmCursorStore, parameter_name
from lambda_workers.events import ChainAddress
from lambda_workers.exceptions import CursorRecordError

CHAIN = ChainAddress("prices", "2024-01-02", "s02-of-04")


def test_commit_load_and_history(ssm: Any, deployment: str) -> None:
    store = SsmCursorStore(ssm)
    assert store.load(deployment, CHAIN) == (None, False)
    for link in (1, 2, 3):
        store.commit(
            deployment, CHAIN, CursorRecord(chain_id="c1", status="running", cursor={"offset": link * 10}, link=link)
        )
    record, halted = store.load(deployment, CHAIN)
    assert record is not None and record.cursor == {"offset": 30} and not halted
    assert [r.link for r in store.history(deployment, CHAIN)] == [1, 2, 3]
    assert parameter_name(deployment, CHAIN) == f"/baton/{deployment}/chains/prices/2024-01-02/s02-of-04"


def test_halt_flag_is_separate_from_the_record(ssm: Any, deployment: str) -> None:
    store = SsmCursorStore(ssm)
    store.commit(deployment, CHAIN, CursorRecord(chain_id="c1", status="running", cursor={}))
    store.set_halt(deployment, CHAIN, True)
    store.commit(deployment, CHAIN, CursorRecord(chain_id="c1", status="running", cursor={"offset": 5}))
    assert store.load(deployment, CHAIN)[1] is True
    store.set_halt(deployment, CHAIN, False)
    store.set_halt(deployment, CHAIN, False)
    assert store.load(deployment, CHAIN)[1] is False


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("{not json", "is not JSON"),
        ('["a"]', "is not a JSON object"),
        ('{"chain_id": "c", "cursor": {}}', "lacks the field 'status'"),
        ('{"chain_id": "c", "status": "paused", "cursor": {}}', "has status 'paused'"),
        ('{"chain_id": "c", "status": "running", "cursor": 5}', "cursor that is not a JSON object"),
        ('{"chain_id": "c", "status": "running", "cursor": {}, "colour": 1}', "unknown fields ['colour']"),
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
    record = CursorRecord(chain_id="c1", status="running", cursor={"token": "x" * 5000})
    with pytest.raises(CursorRecordError, match="over the 4096-byte limit"):
        SsmCursorStore(ssm).commit(deployment, CHAIN, record)
    assert SsmCursorStore(ssm).load(deployment, CHAIN) == (None, False)
