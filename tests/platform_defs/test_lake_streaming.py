"""The lake step over the vendor's own bodies, streamed through buckets: same rows, same reasons, every row counted."""

from __future__ import annotations

import gzip
import io
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import pyarrow.parquet as pq
import pytest

from lambda_workers.chain.chunk_keys import ChunkKey
from lambda_workers.chain.chunks import ChunkBody, ChunkWriter
from lambda_workers.chain.status import ChainStatus
from lambda_workers.sources.base import Delivered
from platform_defs import lake as lake_module
from platform_defs.dataset_spec import Dataset
from platform_defs.datasets import DATASETS
from platform_defs.lake import LakeBuild, build_lake_partition, lake_files
from platform_defs.lake_types import typed_batch
from platform_defs.raw_chunks import read_chunk
from tests.lambda_workers.test_runner import drive, drop_files, event

PRICES = DATASETS["prices"]
DAY = "2024-03-04"


def price(symbol: str, close: Any = 10.5, **extra: Any) -> dict[str, Any]:
    row = {"symbol": symbol, "date": DAY, "open": 10, "high": 11.25, "low": 9.5, "close": close}
    return {**row, "volume": 1200, "currency": "USD", **extra}


def write_body(s3: Any, bucket: str, chain: str, row_from: int, body: Any, path: str = "data") -> int:
    """A body chunk as the worker stores it; returns how many records it holds."""
    records = body
    for part in path.split(".") if path else []:
        records = records[part]
    writer = ChunkWriter(s3, bucket)
    key = ChunkKey(PRICES.raw_prefix(DAY), chain, row_from, row_from + len(records), ".json.gz")
    writer.write(key, ChunkBody.of_delivery(Delivered(json.dumps(body, indent=1).encode(), path)))
    writer.close()
    return len(records)


def lake_table(s3: Any, bucket: str, dataset: Dataset = PRICES, partition: str = DAY) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for key in lake_files(s3, bucket, dataset, partition):
        rows += pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())).to_pylist()
    return rows


def objects(s3: Any, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


@pytest.mark.parametrize(
    ("records", "kept", "reasons"),
    [
        ([price("A"), price("B", comment=None)], ["A", "B"], []),
        ([price("A"), price("B", close=None)], ["A"], ["'close' is missing"]),
        ([price("A"), price("B", close="12.5"), price("C", close="n/a")], ["A", "B"], ["'close' is not a valid float"]),
        ([price("A", volume=2.0), price("B", volume=2.5)], ["A"], ["'volume' is not a valid integer"]),
        ([price("A", nested={"x": [1]}), price("", close=1)], ["A"], ["'symbol' is missing"]),
    ],
    ids=[
        "clean",
        "a null",
        "a number as text, and text",
        "a whole float for an integer",
        "extra fields, a missing key",
    ],
)
def test_a_vendor_body_types_as_its_records_would(
    records: list[dict[str, Any]], kept: list[str], reasons: list[str]
) -> None:
    body = gzip.compress(json.dumps({"data": records, "total": 99}).encode())
    rows = read_chunk("k.json.gz", body, {"records": "data"}, PRICES.columns, set())
    assert rows.records == len(records)
    assert rows.typed.table.column("symbol").to_pylist() == kept
    assert [r["reason"] for r in rows.typed.rejects] == reasons
    defining = typed_batch(records, PRICES.columns)
    assert rows.typed.table.equals(defining.table), "Arrow's reader and the defining reader agree"
    assert rows.typed.rejects == defining.rejects


def test_a_body_arrow_cannot_read_is_read_the_defining_way() -> None:
    listed = gzip.compress(json.dumps([price("A"), price("B")]).encode())
    rows = read_chunk("k.json.gz", listed, {"records": ""}, PRICES.columns, {1})
    assert rows.records == 2
    assert rows.typed.table.column("symbol").to_pylist() == ["A"], "row 1 was quarantined by the worker"


def test_duplicates_across_chains_and_buckets_keep_the_newest_delivery(
    lake: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    s3, bucket = lake
    monkeypatch.setattr(lake_module, "ROWS_PER_BUCKET", 7)  # 60 rows: sixteen buckets on disk
    symbols = [f"S{n:02d}" for n in range(40)]
    older, newer = "20240304T010000Z-aaaaaaaa", "20240304T020000Z-bbbbbbbb"
    raw = write_body(s3, bucket, older, 0, {"data": [price(s, close=1.0) for s in symbols[:20]]})
    raw += write_body(s3, bucket, older, 20, {"data": [price(s, close=1.0) for s in symbols[20:]]})
    raw += write_body(
        s3, bucket, newer, 0, {"result": {"rows": [price(s, close=2.0) for s in symbols[10:30]]}}, "result.rows"
    )
    build = build_lake_partition(s3, bucket, PRICES, PRICES.raw_prefix(DAY), DAY)
    assert (build.raw_rows, build.lake_rows, build.duplicates) == (raw, 40, 20) == (60, 40, 20)
    closes = {row["symbol"]: row["close"] for row in lake_table(s3, bucket)}
    assert closes == {s: 2.0 if 10 <= n < 30 else 1.0 for n, s in enumerate(symbols)}


def test_buckets_are_gathered_into_row_groups_and_parts_of_at_least_their_size(
    lake: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    s3, bucket = lake
    monkeypatch.setattr(lake_module, "ROWS_PER_BUCKET", 4)  # 60 rows: sixteen buckets of about 4
    monkeypatch.setattr(lake_module, "ROWS_PER_ROW_GROUP", 10)
    monkeypatch.setattr(lake_module, "ROWS_PER_PART", 25)
    symbols = [f"S{n:02d}" for n in range(60)]
    write_body(s3, bucket, "20240304T010000Z-aaaaaaaa", 0, {"data": [price(s) for s in symbols]})
    build = build_lake_partition(s3, bucket, PRICES, PRICES.raw_prefix(DAY), DAY)
    assert build.lake_rows == 60
    assert sorted(row["symbol"] for row in lake_table(s3, bucket)) == symbols
    files = [pq.ParquetFile(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) for key in build.files]
    part_rows = [f.metadata.num_rows for f in files]
    assert len(files) > 1 and all(rows >= 25 for rows in part_rows[:-1]), part_rows
    for f in files:
        groups = [f.metadata.row_group(index).num_rows for index in range(f.metadata.num_row_groups)]
        assert all(rows >= 10 for rows in groups[:-1]), f"buckets of about 4 rows, gathered: {groups}"


def test_an_unreadable_body_names_its_object_and_writes_nothing(lake: tuple[Any, str]) -> None:
    s3, bucket = lake
    write_body(s3, bucket, "20240304T010000Z-aaaaaaaa", 0, {"data": [price("A")]})
    key = ChunkKey(PRICES.raw_prefix(DAY), "20240304T010000Z-aaaaaaaa", 1, 2, ".json.gz").key
    s3.put_object(
        Bucket=bucket, Key=key, Body=gzip.compress(b'{"data": [{"symbol": "B"}'), Metadata={"records": "data"}
    )
    with pytest.raises(lake_module.LakeInputError, match=rf"s3://{bucket}/{key}: the body is not JSON"):
        build_lake_partition(s3, bucket, PRICES, PRICES.raw_prefix(DAY), DAY)
    assert lake_files(s3, bucket, PRICES, DAY) == []


def test_the_lake_reads_only_the_newest_full_chain_and_those_after_it(lake: tuple[Any, str]) -> None:
    """Three full refreshes and an incremental run: the lake reads the last full chain and the increment."""
    s3, bucket = lake
    dataset = DATASETS["corporate_actions"]
    deployment = f"t{uuid.uuid4().hex[:8]}"
    zones = {"sink": {"bucket": bucket, "prefix": dataset.raw_prefix("all")}}
    zones["quarantine_prefix"] = dataset.quarantine_prefix("all")  # type: ignore[assignment]
    first = drop_files(s3, bucket, 0, 4)
    chains = [drive(event(deployment, bucket, **zones), pages=1000)[-1]]
    chains += [drive(event(deployment, bucket, full_refresh=True, **zones), pages=1000)[-1] for _ in range(2)]
    later = drop_files(s3, bucket, 4, 2)
    chains.append(drive(event(deployment, bucket, **zones), pages=1000)[-1])
    assert [c.rows for c in chains] == [20, 20, 20, 10] and all(c.status == ChainStatus.DONE for c in chains)

    build = build_lake_partition(s3, bucket, dataset, dataset.raw_prefix("all"), "all")
    assert (build.raw_rows, build.lake_rows, build.duplicates) == (30, 30, 0), "not the 70 rows ever extracted"
    assert (build.superseded_chains, build.superseded_rows, build.removed_chains) == (2, 40, 0)
    assert {r["action_id"] for r in lake_table(s3, bucket, dataset, "all")} == first | later

    finished = datetime.fromisoformat(chains[2].updated_at or "")

    def rebuild(days_later: float) -> LakeBuild:
        at = finished + timedelta(days=days_later)
        return build_lake_partition(s3, bucket, dataset, dataset.raw_prefix("all"), "all", timedelta(days=7), at)

    assert rebuild(6).removed_chains == 0, "within the retention"
    expired = rebuild(8)
    assert (expired.removed_chains, expired.raw_rows, expired.lake_rows) == (2, 30, 30)
    for zone in (dataset.raw_prefix("all"), dataset.quarantine_prefix("all")):
        remaining = {key.removeprefix(zone + "/").split("/")[0] for key in objects(s3, bucket, zone + "/")}
        assert remaining <= {chains[2].chain_id, chains[3].chain_id}, f"the superseded chains are gone from {zone}"
    after = rebuild(9)
    assert (after.superseded_chains, after.raw_rows, after.lake_rows) == (0, 30, 30)
