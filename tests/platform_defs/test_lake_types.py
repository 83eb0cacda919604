"""The lake's column typing: what takes each type, what is rejected and why, on both Arrow paths."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from platform_defs.datasets import Column
from platform_defs.lake_types import typed_batch

COLUMNS = (
    Column("id", "string", "key"),
    Column("day", "date", "day"),
    Column("price", "float", "price", required=False),
    Column("volume", "integer", "volume", required=False),
    Column("ts", "timestamp", "time", required=False),
    Column("unix", "epoch_seconds", "unix time", required=False),
    Column("unix_ms", "epoch_millis", "unix time in ms", required=False),
)


def row(**values: Any) -> dict[str, Any]:
    return {"id": "A", "day": "2025-06-02", **values}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"price": "0.25", "volume": "3"}, {"price": 0.25, "volume": 3}),  # CSV text
        ({"price": 2, "volume": 3.0}, {"price": 2.0, "volume": 3}),  # JSON numbers
        ({"ts": "2025-06-02T14:30:00Z"}, {"ts": datetime(2025, 6, 2, 14, 30)}),
        ({"ts": "2025-06-02 10:30:00-04:00"}, {"ts": datetime(2025, 6, 2, 14, 30)}),  # to UTC
        ({"ts": "2025-06-02T14:30:00.250000"}, {"ts": datetime(2025, 6, 2, 14, 30, 0, 250000)}),
        ({"day": "2025-06-02T23:30:00-04:00"}, {"day": date(2025, 6, 3)}),  # the UTC day
        ({"price": "", "volume": None}, {"price": None, "volume": None}),  # absent, not invalid
        (
            {"unix": 1748874600, "unix_ms": 1748874600250},
            {"unix": datetime(2025, 6, 2, 14, 30), "unix_ms": datetime(2025, 6, 2, 14, 30, 0, 250000)},
        ),
        ({"unix": "1748874600.5"}, {"unix": datetime(2025, 6, 2, 14, 30, 0, 500000)}),  # CSV text, a fraction
    ],
)
def test_values_take_their_types_alone_and_among_bad_rows(values: dict[str, Any], expected: dict[str, Any]) -> None:
    alone = typed_batch([row(**values)] * 3, COLUMNS)  # the vectorised cast
    mixed = typed_batch([row(**values), row(price="not a number")], COLUMNS)  # value by value
    for batch in (alone, mixed):
        typed = batch.table.to_pylist()[0]
        assert {name: typed[name] for name in expected} == expected
    assert alone.rejects == [] and len(mixed.rejects) == 1


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"day": "2025-13-45"}, "'day' is not a valid date"),
        ({"day": "02/06/2025"}, "'day' is not a valid date"),
        ({"price": "two"}, "'price' is not a valid float"),
        ({"price": "nan"}, "'price' is not a valid float"),
        ({"price": True}, "'price' is not a valid float"),
        ({"volume": 2.5}, "'volume' is not a valid integer"),
        ({"id": ""}, "'id' is missing"),
        ({"id": None, "day": "bad"}, "'id' is missing"),  # the first column at fault names the row
        ({"ts": 1717338600}, "'ts' is not a valid timestamp"),
        ({"unix": "2025-06-02T14:30:00Z"}, "'unix' is not a valid epoch_seconds"),
        ({"unix_ms": True}, "'unix_ms' is not a valid epoch_millis"),
    ],
)
def test_a_bad_row_is_rejected_with_the_reason_and_kept_whole(values: dict[str, Any], reason: str) -> None:
    bad = row(**values)
    batch = typed_batch([row(), bad, row(id="B")], COLUMNS)
    assert batch.table.column("id").to_pylist() == ["A", "B"]
    assert batch.rejects == [{"reason": reason, "record": {c.name: bad.get(c.name) for c in COLUMNS}}]


def test_an_empty_batch_has_the_declared_schema() -> None:
    batch = typed_batch([], COLUMNS)
    assert [str(t) for t in batch.table.schema.types] == [
        "string",
        "date32[day]",
        "double",
        "int64",
        "timestamp[us]",
        "timestamp[us]",
        "timestamp[us]",
    ]
    assert batch.table.num_rows == 0 and batch.rejects == []
