"""A link's result crosses Lambda as plain JSON and reads back as the same typed value."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from lambda_workers.chain.cursor_store import CursorRecord
from lambda_workers.chain.link_result import LinkResult
from lambda_workers.chain.status import ChainMode, ChainStatus, LinkOutcome
from lambda_workers.exceptions import LinkResultError

PARAMETER = "/baton/prod/chains/prices/2024-01-02"
LINK = {"link_ms": 812.5, "memory_mb": 512, "max_rss_mb": 97.3}


def after(record: CursorRecord | None, outcome: LinkOutcome, detail: str | None = None) -> LinkResult:
    return LinkResult.after_link(
        record, parameter=PARAMETER, outcome=outcome, detail=detail, link_rows=500, link_pages=1, **LINK
    )


def running_record() -> CursorRecord:
    return CursorRecord(
        chain_id="20240102T000000Z-abcd1234",
        status=ChainStatus.RUNNING,
        cursor={"offset": 1500},
        link=3,
        rows=1500,
        bytes=4096,
        chunks=3,
        total=3000,
        billed_ms=6000,
        started_at="2024-01-02T00:00:00+00:00",
        updated_at="2024-01-02T00:01:30+00:00",
        prefix="raw/vendor/prices/2024-01-02/20240102T000000Z-abcd1234",
        mode=ChainMode.DRIVEN,
        memory_mb=512,
    )


def test_the_payload_is_plain_json_and_reads_back_equal() -> None:
    result = after(running_record(), LinkOutcome.BUDGET_SPENT)
    payload = result.to_payload()
    assert json.loads(json.dumps(payload)) == payload
    assert type(payload["status"]) is str and type(payload["outcome"]) is str, "plain strings, not enum members"
    assert (payload["status"], payload["outcome"], payload["done"]) == ("running", "budget spent", False)
    assert LinkResult.from_payload(json.loads(json.dumps(payload))) == result


def test_a_chain_that_never_ran_is_absent() -> None:
    result = LinkResult.from_payload(after(None, LinkOutcome.HALTED).to_payload())
    assert (result.status, result.chain_id, result.rows, result.cursor) == (ChainStatus.ABSENT, None, 0, None)
    assert not result.done


def test_a_retry_later_keeps_the_sources_reason() -> None:
    reason = "GET /v1/prices: 429 Too Many Requests; retry after 61.0 s"
    result = LinkResult.from_payload(after(running_record(), LinkOutcome.RETRY_LATER, reason).to_payload())
    assert (result.outcome, result.detail) == (LinkOutcome.RETRY_LATER, reason)


def test_a_payload_of_the_workers_before_link_outcome_still_reads() -> None:
    """No `detail`, and a retry-later link's outcome was the reason itself."""
    payload = after(running_record(), LinkOutcome.BUDGET_SPENT).to_payload()
    del payload["detail"]
    assert LinkResult.from_payload(payload).outcome == LinkOutcome.BUDGET_SPENT
    payload["outcome"] = "GET /v1/prices: 429; retry after 61.0 s"
    result = LinkResult.from_payload(payload)
    assert (result.outcome, result.detail) == (LinkOutcome.RETRY_LATER, "GET /v1/prices: 429; retry after 61.0 s")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"rows": None}, "has rows None, not an integer"),
        ({"link": True}, "has link True, not an integer"),
        ({"status": "paused"}, "has status 'paused', not one of pending, running, done, halted, failed, absent"),
        ({"cursor": [1]}, "has cursor [1], not a JSON object"),
        ({"window_closed": "no"}, "has window_closed 'no', not true or false"),
        ({"link_ms": "fast"}, "has link_ms 'fast', not a number"),
    ],
)
def test_a_payload_that_does_not_match_names_the_field(change: dict[str, Any], problem: str) -> None:
    payload = {**after(running_record(), LinkOutcome.BUDGET_SPENT).to_payload(), **change}
    with pytest.raises(LinkResultError, match=re.escape(problem)):
        LinkResult.from_payload(payload)


def test_a_payload_missing_a_field_or_not_an_object_is_refused() -> None:
    payload = after(running_record(), LinkOutcome.BUDGET_SPENT).to_payload()
    del payload["parameter"]
    with pytest.raises(LinkResultError, match="lacks the field 'parameter'"):
        LinkResult.from_payload(payload)
    with pytest.raises(LinkResultError, match="must be a JSON object, got list"):
        LinkResult.from_payload([payload])
