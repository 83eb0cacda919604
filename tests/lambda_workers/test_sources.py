"""Each source kind against the real vendor API (and real S3 and SSM), driven through the handler."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from lambda_workers.chain.link_result import LinkResult
from lambda_workers.chain.status import ChainStatus, LinkOutcome
from lambda_workers.handler import lambda_handler
from local_stack.stack import VENDOR_SECRET_PARAMETER, LocalStack
from tests.lambda_workers.conftest import DeadlineContext
from tests.raw_zone import raw_records


@pytest.fixture
def vendor(local_stack: LocalStack) -> Iterator[str]:
    url = local_stack.environment()["BATON_VENDOR_MARKETS_BASE_URL"]
    admin(url, "reset", {})
    yield url
    admin(url, "reset", {})
    admin(url, "config", {"now": None})


def admin(vendor: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{vendor}/admin/{path}",
        data=data,
        method="POST" if data else "GET",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def run_chain(
    source: dict[str, Any], bucket: str, deployment: str, timeout_ms: int = 5000, **extra: Any
) -> list[LinkResult]:
    event = {
        "version": 1,
        "action": "start",
        "deployment": deployment,
        "mode": "driven",
        "max_links": 100,
        "chain": {"asset": "a", "partition": "p"},
        "source": source,
        "sink": {"bucket": bucket, "prefix": "raw/t"},
        "quarantine_prefix": "quarantine/t",
        **extra,
    }
    results = [LinkResult.from_payload(lambda_handler(event, DeadlineContext(timeout_ms)))]
    while results[-1].status == ChainStatus.RUNNING:
        last = results[-1]
        follow = {**event, "action": "continue", "chain_id": last.chain_id, "link": last.link + 1}
        results.append(LinkResult.from_payload(lambda_handler(follow, DeadlineContext(timeout_ms))))
    return results


def auth() -> dict[str, str]:
    return {"header": "X-Api-Key", "secret_parameter": VENDOR_SECRET_PARAMETER}


def test_xml_pages_give_every_instrument_once(vendor: str, bucket: str, deployment: str, s3: Any) -> None:
    source = {
        "kind": "xml_api",
        "base_url": vendor,
        "path": "/v1/instruments.xml",
        "record_element": "instrument",
        "page_size": 700,
        "auth": auth(),
    }
    final = run_chain(source, bucket, deployment)[-1]
    symbols = [r["symbol"] for r in raw_records(s3, bucket)]
    assert final.status == ChainStatus.DONE and final.total == len(symbols) == len(set(symbols)) == 3000
    assert final.window_closed is True


def test_next_token_pages_and_retries_through_429_5xx_and_truncation(
    vendor: str, bucket: str, deployment: str, s3: Any
) -> None:
    admin(
        vendor, "knobs", {"burst_429": 2, "retry_after_s": 0, "error_rate": 0.2, "truncate_rate": 0.2, "fail_seed": 3}
    )
    source = {
        "kind": "json_rest",
        "base_url": vendor,
        "path": "/v1/fx",
        "params": {"from": "2025-06-02", "to": "2025-06-13"},
        "pagination": {"style": "token", "limit": 15},
        "auth": auth(),
    }
    final = run_chain(source, bucket, deployment, timeout_ms=20_000)[-1]
    keys = [(r["date"], r["quote"]) for r in raw_records(s3, bucket)]
    assert final.status == ChainStatus.DONE
    assert len(keys) == len(set(keys)) == 10 * 20
    faults = admin(vendor, "stats")
    assert json.dumps(faults).count("429") >= 1


def test_link_seconds_hands_on_long_before_the_functions_deadline(
    vendor: str, bucket: str, deployment: str, s3: Any
) -> None:
    """30 pages at 300 ms each take 9 s on any machine: 1-second links in a 60-second function need several."""
    admin(vendor, "knobs", {"latency_ms": 300})
    source = {
        "kind": "json_rest",
        "base_url": vendor,
        "path": "/v1/prices",
        "params": {"from": "2025-06-02", "to": "2025-06-02"},
        "pagination": {"style": "offset", "limit": 100},
        "auth": auth(),
    }
    results = run_chain(source, bucket, deployment, timeout_ms=60_000, link_seconds=1)
    assert results[-1].status == ChainStatus.DONE and len(results) > 1
    assert all(r.status == ChainStatus.RUNNING for r in results[:-1]), "each short link handed on"
    keys = [(r["symbol"], r["date"]) for r in raw_records(s3, bucket)]
    assert len(keys) == len(set(keys)) == 3000


def test_link_header_pages_and_an_intraday_rerun_fetches_only_new_bars(
    vendor: str, bucket: str, deployment: str, s3: Any
) -> None:
    source = {
        "kind": "json_rest",
        "base_url": vendor,
        "path": "/v1/intraday",
        "params": {"date": "2025-06-02"},
        "records": "",
        "pagination": {"style": "link", "limit": 100},
        "incremental": {"field": "seq", "param": "after"},
        "auth": auth(),
        "window_closes_at": "2025-06-02T20:00:00+00:00",
    }
    admin(vendor, "config", {"now": "2025-06-02T11:00:00+00:00"})  # 07:00 in New York
    first = run_chain(source, bucket, deployment)[-1]
    assert first.status == ChainStatus.DONE and not first.window_closed
    before = admin(vendor, "stats")
    again = run_chain(source, bucket, deployment)[-1]
    assert again.rows == 0, "nothing new was published: no rows"
    admin(vendor, "config", {"now": "2025-06-02T11:20:00+00:00"})
    later = run_chain(source, bucket, deployment)[-1]
    assert later.rows == 4 * 50, "four new 5-minute bars for each of 50 instruments"
    seqs = [r["seq"] for r in raw_records(s3, bucket)]
    assert len(seqs) == len(set(seqs)) == first.rows + later.rows
    admin(vendor, "config", {"now": "2025-06-02T21:00:00+00:00"})
    closing = run_chain(source, bucket, deployment)[-1]
    assert closing.window_closed is True
    calls = admin(vendor, "stats")
    skipped = run_chain(source, bucket, deployment)[-1]
    assert skipped.outcome == LinkOutcome.SKIPPED
    assert admin(vendor, "stats") == calls, "a chain done for its window does not call the API again"
    assert before != calls


def test_job_polling_spans_links_until_the_job_finishes(vendor: str, bucket: str, deployment: str, s3: Any) -> None:
    admin(vendor, "config", {"job_seconds": 3})
    source = {
        "kind": "job_poll",
        "base_url": vendor,
        "start_path": "/v1/jobs",
        "status_path": "/v1/jobs/{job_id}",
        "job": {"kind": "index_constituents", "params": {"as_of": "2025-06-02"}},
        "poll_seconds": 1,
        "auth": auth(),
    }
    results = run_chain(source, bucket, deployment, timeout_ms=1500)
    assert results[-1].status == ChainStatus.DONE and len(results) >= 2
    assert len({(r.cursor or {}).get("job_id") for r in results}) == 1, "every link polls the same job"
    rows = raw_records(s3, bucket)
    assert rows and set(rows[0]) == {"as_of", "index_code", "symbol", "weight"}
