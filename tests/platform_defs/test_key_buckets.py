"""Key buckets: every row comes back once, every key in one bucket, and the keys spread over the buckets."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa

from platform_defs.key_buckets import KeyBuckets

SCHEMA = pa.schema([("symbol", pa.string()), ("day", pa.date32()), ("close", pa.float64())])


def test_each_key_lands_in_one_bucket_and_no_row_is_lost(tmp_path: Path) -> None:
    buckets = KeyBuckets(tmp_path, SCHEMA, ["symbol", "day"], expected_rows=4_000, rows_per_bucket=500, batch_rows=700)
    assert buckets.count == 8
    sent: Counter[tuple[object, object]] = Counter()
    for delivery in range(3):  # three deliveries of the same keys, in batches that straddle spills
        symbols = [f"S{n % 97}" if n % 13 else None for n in range(1_000)]
        days = [n * 64 for n in range(1_000)]  # days a power of two apart
        table = pa.table(
            {
                "symbol": symbols,
                "day": pa.array(days, pa.int32()).cast(pa.date32()),
                "close": [float(delivery)] * 1_000,
            },
            SCHEMA,
        )
        for start in range(0, 1_000, 300):
            buckets.add(table.slice(start, 300))
        sent.update(zip(symbols, table.column("day").to_pylist(), strict=True))
    seen: dict[tuple[object, object], int] = {}
    returned: Counter[tuple[object, object]] = Counter()
    tables = list(buckets.buckets())
    for index, table in enumerate(tables):
        for key in zip(table.column("symbol").to_pylist(), table.column("day").to_pylist(), strict=True):
            assert seen.setdefault(key, index) == index, f"{key} is in two buckets"
            returned[key] += 1
    assert returned == sent
    assert len(tables) == 8 and min(t.num_rows for t in tables) > 3_000 / 8 / 2, [t.num_rows for t in tables]
    assert list(tmp_path.iterdir()) == [], "each bucket's file is removed once read"
