"""`/v1/intraday`: Link-header pagination over bars published by the vendor clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.local_stack.vendor_api.helpers import VendorClient

NEW_YORK = ZoneInfo("America/New_York")
SYMBOLS = 5
LINK = re.compile(r'^<(http://[^>]+)>; rel="next"$')


def follow(vendor: VendorClient, day: str, after: int = 0, limit: int = 40) -> tuple[list[dict[str, Any]], int]:
    """All bars from `after` on, following Link headers; returns them and the number of pages."""
    result = vendor.get("/v1/intraday", date=day, after=after, limit=limit)
    bars, pages = [], 0
    while True:
        assert result.status == 200
        pages += 1
        bars.extend(result.json())
        link = result.headers.get("link")
        if link is None:
            return bars, pages
        match = LINK.match(link)
        assert match, link
        url = match.group(1)
        assert url.startswith(vendor.url + "/v1/intraday?")
        result = vendor.request("GET", url[len(vendor.url) :], key=vendor.api_key)


def test_a_past_day_has_every_bar_once(vendor: VendorClient) -> None:
    bars, pages = follow(vendor, "2024-02-28")
    assert len(bars) == 120 * SYMBOLS and pages == 15
    assert [bar["seq"] for bar in bars] == list(range(1, len(bars) + 1))
    assert len({(bar["symbol"], bar["ts"]) for bar in bars}) == len(bars)
    assert {bar["symbol"] for bar in bars} == {f"SYM{n:05d}" for n in range(1, SYMBOLS + 1)}
    local = [datetime.fromisoformat(bar["ts"].replace("Z", "+00:00")).astimezone(NEW_YORK) for bar in bars]
    assert min(local).strftime("%H:%M") == "06:00" and max(local).strftime("%H:%M") == "15:55"
    for bar in bars:
        assert bar["high"] >= max(bar["open"], bar["close"]) and 0 < bar["low"] <= min(bar["open"], bar["close"])


def test_only_bars_ended_by_the_clock_are_published_and_resuming_gets_only_new_ones(vendor: VendorClient) -> None:
    # The clock is 2024-03-01 12:00 UTC = 07:00 in New York (EST): 12 bars per symbol have ended.
    bars, _ = follow(vendor, "2024-03-01")
    assert len(bars) == 12 * SYMBOLS
    clock = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    assert all(datetime.fromisoformat(b["ts"].replace("Z", "+00:00")) + timedelta(minutes=5) <= clock for b in bars)
    high_water = bars[-1]["seq"]

    vendor.admin("/admin/config", {"now": "2024-03-01T12:37:00Z"})
    new, _ = follow(vendor, "2024-03-01", after=high_water)
    assert len(new) == 7 * SYMBOLS
    assert new[0]["seq"] == high_water + 1
    assert {b["ts"] for b in new}.isdisjoint({b["ts"] for b in bars})
    replay, _ = follow(vendor, "2024-03-01")
    assert replay == bars + new


def test_no_link_when_nothing_more_is_published(vendor: VendorClient) -> None:
    result = vendor.get("/v1/intraday", date="2024-03-01", after=60)
    assert result.status == 200 and result.json() == [] and "link" not in result.headers
    for day in ("2024-03-02", "2024-03-04", "2023-12-29"):  # weekend, future, before the history
        result = vendor.get("/v1/intraday", date=day)
        assert result.json() == [] and "link" not in result.headers
