"""How a chain reads in the UI: the per-link progress line and the metadata of a cursor record."""

from __future__ import annotations

from lambda_workers.chain.cursor_store import CursorRecord
from lambda_workers.chain.link_result import LinkResult
from lambda_workers.chain.status import ChainMode, ChainStatus, LinkOutcome
from platform_defs.chain_metadata import ChainProgress, chain_metadata, record_metadata, shards_metadata

PARAMETER = "/baton/local/chains/prices/2025-06-02"


def link(
    link: int,
    rows: int,
    link_rows: int,
    total: int | None,
    status: ChainStatus = ChainStatus.RUNNING,
    outcome: LinkOutcome = LinkOutcome.BUDGET_SPENT,
    detail: str | None = None,
    parameter: str = PARAMETER,
) -> LinkResult:
    return LinkResult(
        parameter=parameter,
        outcome=outcome,
        detail=detail,
        chain_id="20250602T000000Z-abcd1234",
        status=status,
        link=link,
        cursor={"offset": rows},
        rows=rows,
        bytes=rows * 10,
        chunks=link,
        quarantined=0,
        total=total,
        window_closed=False,
        last_error=None,
        billed_ms=link * 2000,
        started_at="2025-06-02T00:00:00+00:00",
        updated_at=f"2025-06-02T00:00:{5 * link:02d}+00:00",
        prefix="raw/vendor/prices/2025-06-02/20250602T000000Z-abcd1234",
        link_rows=link_rows,
        link_pages=1,
        link_ms=5000.0,
        memory_mb=1024,
        max_rss_mb=90.0,
    )


def test_progress_gives_percent_and_an_eta_from_this_runs_rate() -> None:
    now = [100.0]
    progress = ChainProgress(clock=lambda: now[0])
    first = progress.line(link(1, 10_000, 10_000, 40_000))
    assert 'cursor {"offset": 10000}' in first and "25% of 40000" in first
    assert "ETA 15 s" in first, "10,000 rows in the first 5 s leave 30,000 rows: 15 s"
    now[0] = 105.0  # the second link took its 5 s too
    second = progress.line(link(2, 20_000, 10_000, 40_000))
    assert "50% of 40000" in second and "ETA 10 s" in second, "20,000 rows in 10 s leave 20,000: 10 s"
    done = progress.line(link(4, 40_000, 10_000, 40_000, status=ChainStatus.DONE, outcome=LinkOutcome.EXHAUSTED))
    assert "100% of 40000" in done and "ETA" not in done


def test_progress_without_a_total_shows_rows_and_cursor_only() -> None:
    line = ChainProgress(clock=lambda: 0.0).line(link(1, 500, 500, None))
    assert "500 rows so far" in line and "%" not in line and "ETA" not in line


def test_a_cursor_record_becomes_the_same_metadata_as_a_link_result() -> None:
    record = CursorRecord(
        chain_id="20250602T000000Z-abcd1234",
        status=ChainStatus.RUNNING,
        cursor={"offset": 1500},
        link=3,
        rows=1500,
        total=3000,
        billed_ms=6000,
        started_at="2025-06-02T00:00:00+00:00",
        updated_at="2025-06-02T00:01:30+00:00",
        prefix="raw/vendor/prices/2025-06-02/20250602T000000Z-abcd1234",
        mode=ChainMode.RELAY,
        memory_mb=1024,
    )
    metadata = record_metadata(PARAMETER, record)
    assert metadata["progress"].value == 0.5
    assert metadata["links"] == 3 and metadata["rows"] == 1500
    assert metadata["cursor"].value == {"offset": 1500}
    assert metadata["lambda_gb_seconds"] == 6.0 and metadata["duration_s"] == 90.0
    assert metadata["ssm_parameter"] == PARAMETER
    assert metadata["status"] == metadata["outcome"] == "running", "a record has no link outcome: its status stands in"
    as_a_link = chain_metadata(link(3, 1500, 500, 3000))
    same = ("links", "rows", "lambda_gb_seconds", "ssm_parameter", "s3_prefix")
    assert {key: as_a_link[key] for key in same} == {key: metadata[key] for key in same}
    assert as_a_link["outcome"] == "budget spent"


def test_a_retry_later_line_gives_the_sources_reason() -> None:
    reason = "GET /v1/prices: 429; retry after 61.0 s"
    line = ChainProgress(clock=lambda: 0.0).line(link(2, 500, 0, None, outcome=LinkOutcome.RETRY_LATER, detail=reason))
    assert f"link 2: retry later ({reason}), +0 rows" in line


def test_shards_sum_their_counters_and_are_done_only_when_all_are() -> None:
    shards = [
        link(2, 1000, 500, 1000, status=ChainStatus.DONE, parameter=f"{PARAMETER}/s01-of-02"),
        link(3, 1500, 500, 3000, parameter=f"{PARAMETER}/s02-of-02"),
    ]
    metadata = shards_metadata(shards)
    assert (metadata["status"], metadata["links"], metadata["rows"], metadata["shards"]) == ("incomplete", 5, 2500, 2)
    assert metadata["cursor"].value == {
        f"{PARAMETER}/s01-of-02": {"offset": 1000},
        f"{PARAMETER}/s02-of-02": {"offset": 1500},
    }
    assert shards_metadata(shards[:1])["status"] == "done"
