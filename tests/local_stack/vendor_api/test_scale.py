"""Scale: deep pages of a ten-million-row range cost no memory and little time (slow tests)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

from tests.local_stack.vendor_api.helpers import StartVendor

LARGE = {"instruments": 3300, "start_date": "2015-01-01", "now": "2026-11-20T12:00:00Z"}
RANGE = {"from": "2015-01-01", "to": "2026-12-31"}
PAGE = 50_000


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.slow
def test_deep_pages_keep_the_server_rss_flat(start_vendor: StartVendor) -> None:
    server = start_vendor(LARGE)
    total = server.client.get("/v1/prices", limit=1, **RANGE).json()["total"]
    assert total > 10_000_000
    for offset in (0, PAGE, total - PAGE):
        assert len(server.client.get("/v1/prices", offset=offset, limit=PAGE, **RANGE).json()["data"]) == PAGE
    baseline = rss_bytes(server.process.pid)
    for k in range(1, 25):
        offset = total * k // 25
        page = server.client.get("/v1/prices", offset=offset, limit=PAGE, **RANGE).json()
        assert len(page["data"]) == PAGE and page["total"] == total
    growth = rss_bytes(server.process.pid) - baseline
    print(f"server RSS {baseline / 2**20:.1f} MiB after warm-up, {growth / 2**20:+.1f} MiB after 24 deep pages")
    assert growth < 30 * 2**20, f"RSS grew by {growth / 2**20:.1f} MiB"


@pytest.mark.slow
def test_a_full_prices_page_is_served_quickly(start_vendor: StartVendor) -> None:
    server = start_vendor(LARGE)
    timings = []
    for k in range(7):
        started = time.perf_counter()
        result = server.client.get("/v1/prices", offset=5_000_000 + k * PAGE, limit=PAGE, **RANGE)
        timings.append(time.perf_counter() - started)
        assert result.status == 200
    best, median = min(timings), statistics.median(timings)
    print(f"50,000-row prices page over HTTP: best {best:.3f} s, median {median:.3f} s ({PAGE / median:,.0f} rows/s)")
    assert median < 1.0
