"""How a chain reads in the UI: the per-link progress line and the metadata of a cursor record."""

from __future__ import annotations

from typing import Any

from lambda_workers.chain.cursor_store import CursorRecord
from platform_defs.chain_metadata import ChainProgress, chain_metadata, record_result


def link(link: int, rows: int, link_rows: int, total: int | None, status: str = "running") -> dict[str, Any]:
    return {
        "parameter": "/baton/local/chains/prices/2025-06-02",
        "link": link,
        "outcome": "budget spent",
        "status": status,
        "rows": rows,
        "link_rows": link_rows,
        "link_ms": 5000.0,
        "cursor": {"offset": rows},
        "total": total,
    }


def test_progress_gives_percent_and_an_eta_from_this_runs_rate() -> None:
    now = [100.0]
    progress = ChainProgress(clock=lambda: now[0])
    first = progress.line(link(1, 10_000, 10_000, 40_000))
    assert 'cursor {"offset": 10000}' in first and "25% of 40000" in first
    assert "ETA 15 s" in first, "10,000 rows in the first 5 s leave 30,000 rows: 15 s"
    now[0] = 105.0  # the second link took its 5 s too
    second = progress.line(link(2, 20_000, 10_000, 40_000))
    assert "50% of 40000" in second and "ETA 10 s" in second, "20,000 rows in 10 s leave 20,000: 10 s"
    done = progress.line(link(4, 40_000, 10_000, 40_000, status="done"))
    assert "100% of 40000" in done and "ETA" not in done


def test_progress_without_a_total_shows_rows_and_cursor_only() -> None:
    line = ChainProgress(clock=lambda: 0.0).line(link(1, 500, 500, None))
    assert "500 rows so far" in line and "%" not in line and "ETA" not in line


def test_a_cursor_record_becomes_the_same_metadata_as_a_link_result() -> None:
    record = CursorRecord(
        chain_id="20250602T000000Z-abcd1234",
        status="running",
        cursor={"offset": 1500},
        link=3,
        rows=1500,
        total=3000,
        billed_ms=6000,
        started_at="2025-06-02T00:00:00+00:00",
        updated_at="2025-06-02T00:01:30+00:00",
        prefix="raw/vendor/prices/2025-06-02/20250602T000000Z-abcd1234",
        extra={"memory_mb": 1024, "mode": "relay"},
    )
    metadata = chain_metadata(record_result("/baton/local/chains/prices/2025-06-02", record))
    assert metadata["progress"].value == 0.5
    assert metadata["links"] == 3 and metadata["rows"] == 1500
    assert metadata["cursor"].value == {"offset": 1500}
    assert metadata["lambda_gb_seconds"] == 6.0 and metadata["duration_s"] == 90.0
    assert metadata["ssm_parameter"] == "/baton/local/chains/prices/2025-06-02"
