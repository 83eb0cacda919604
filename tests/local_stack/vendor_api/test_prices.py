"""`/v1/prices`: offset/limit pagination, sharding by symbol range, OHLC invariants, splits."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from typing import Any

import pytest

from tests.local_stack.vendor_api.helpers import SMALL_CONFIG, VendorClient

PUBLISHED_DAYS = 44  # business days from 2024-01-01 to 2024-02-29, the day before the clock's date
RANGE = {"from": "2024-01-01", "to": "2024-12-31"}


def walk(vendor: VendorClient, limit: int, **params: Any) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    offset, totals = 0, set()
    while True:
        page = vendor.get("/v1/prices", offset=offset, limit=limit, **params).json()
        totals.add(page["total"])
        assert (page["offset"], page["limit"]) == (offset, limit)
        if not page["data"]:
            break
        rows.extend(page["data"])
        offset += len(page["data"])
    assert len(totals) == 1
    return rows, totals.pop()


def test_offset_pagination_walks_every_row_once(vendor: VendorClient) -> None:
    rows, total = walk(vendor, 97, **RANGE)
    assert total == len(rows) == PUBLISHED_DAYS * SMALL_CONFIG["instruments"]
    keys = [(row["date"], row["symbol"]) for row in rows]
    assert len(set(keys)) == len(keys)
    assert keys == sorted(keys)
    assert rows[-1]["date"] == "2024-02-29"
    assert all(date.fromisoformat(day).weekday() < 5 for day, _ in keys)


def test_symbol_range_shards_partition_the_rows(vendor: VendorClient) -> None:
    everything, total = walk(vendor, 5000, **RANGE)
    shards = [("SYM00001", "SYM00013"), ("SYM00014", "SYM00027"), ("SYM00028", "SYM00040")]
    union: list[dict[str, Any]] = []
    shard_totals = 0
    for low, high in shards:
        rows, shard_total = walk(vendor, 300, symbol_from=low, symbol_to=high, **RANGE)
        assert all(low <= row["symbol"] <= high for row in rows)
        union.extend(rows)
        shard_totals += shard_total
    assert shard_totals == total
    assert sorted(union, key=lambda r: (r["date"], r["symbol"])) == everything


def test_ohlc_invariants_and_two_decimals(vendor: VendorClient) -> None:
    result = vendor.get("/v1/prices", limit=50000, **RANGE)
    for number in re.findall(rb'"(?:open|high|low|close)":([0-9.]+)', result.body):
        assert re.fullmatch(rb"[0-9]+\.[0-9]{2}", number), number
    rows = result.json()["data"]
    assert rows
    for row in rows:
        assert row["high"] >= max(row["open"], row["close"]), row
        assert 0 < row["low"] <= min(row["open"], row["close"]), row
        assert isinstance(row["volume"], int) and row["volume"] > 0
        assert row["currency"] in {"USD", "GBP", "EUR", "JPY"}


def test_a_page_deep_in_the_range_equals_the_same_rows_walked_to(vendor: VendorClient) -> None:
    rows, _ = walk(vendor, 500, **RANGE)
    deep = vendor.get("/v1/prices", offset=1234, limit=10, **RANGE).json()["data"]
    assert deep == rows[1234:1244]


def test_raw_prices_drop_by_the_split_ratio_on_ex_dates(vendor: VendorClient) -> None:
    vendor.admin("/admin/config", {"instruments": 3000, "start_date": "2023-01-02", "now": "2024-01-01T00:00:00Z"})
    splits = []
    day = date(2023, 1, 2)
    while day < date(2024, 1, 1):
        if day.weekday() < 5:
            feed = vendor.get(f"/v1/feeds/corporate_actions/{day}.csv")
            assert feed.status == 200
            splits += [row for row in csv.DictReader(io.StringIO(feed.text)) if row["action_type"] == "split"]
        day += timedelta(days=1)
    assert 30 <= len(splits) <= 100, len(splits)
    ratios = set()
    for split in splits:
        ex_date = date.fromisoformat(split["ex_date"])
        window = {"from": str(ex_date - timedelta(days=7)), "to": str(ex_date)}
        rows = vendor.get("/v1/prices", symbol_from=split["symbol"], symbol_to=split["symbol"], **window).json()["data"]
        if len(rows) < 2 or rows[-1]["date"] != split["ex_date"]:
            continue  # the ex-date is the first day of the history or not yet published
        before, after = rows[-2], rows[-1]
        ratio = float(split["ratio"])
        ratios.add(ratio)
        assert before["close"] / after["close"] == pytest.approx(ratio, rel=0.12), (split, before, after)
        assert after["volume"] > before["volume"] * ratio * 0.2
    assert ratios >= {2.0, 1.5}
