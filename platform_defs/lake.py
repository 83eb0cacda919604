"""Raw chunks to typed, deduplicated Parquet: the lake zone of one dataset partition.

Every record is accounted for: raw rows = lake rows + quarantined by the worker + rejected here
(a value that will not take its column's type) + duplicates (the same key delivered again; the
newest chain wins, since chain ids sort by start time). Rejected rows go to the quarantine zone
with their reason, like the worker's. The Parquet parts are written before stale parts are
removed, so a reader never sees a partition with nothing in it.

Typing is Arrow's, a column at a time (`platform_defs.lake_types`), so the lake needs no pandas
and each raw chunk becomes a compact typed batch as soon as it is read.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lambda_workers.chain.chunk_keys import SUFFIX as CHUNK_SUFFIX
from lambda_workers.chain.chunk_keys import ChunkKey
from platform_defs.datasets import Dataset
from platform_defs.lake_types import ARROW_TYPES, typed_batch

__all__ = ["PARTITION_COLUMN", "LakeBuild", "LakeInputError", "build_lake_partition", "lake_files"]

ROWS_PER_PART = 1_000_000
PARTITION_COLUMN = "_partition"  # lets the warehouse replace exactly one partition on reload
_ORDINAL = "__ordinal"  # delivery order across the partition's chunks: the last delivery of a key wins


class LakeInputError(ValueError):
    """The raw zone cannot be built from as it is; the message names the S3 object and what is wrong.

    Raised before anything is written, so the lake partition keeps its previous parts.
    """


@dataclass(frozen=True)
class LakeBuild:
    raw_rows: int
    quarantined: int
    rejected: int
    duplicates: int
    lake_rows: int
    chunks: int
    files: tuple[str, ...]


def build_lake_partition(s3: Any, bucket: str, dataset: Dataset, raw_prefix: str, lake_partition: str) -> LakeBuild:
    """Rebuild `lake/<dataset>/<lake_partition>/` from every chunk under `raw_prefix`."""
    chunk_keys = sorted(_list_keys(s3, bucket, raw_prefix + "/", suffix=CHUNK_SUFFIX))
    # One listing of the quarantine zone rather than a GET per chunk: most chunks have no twin.
    twins = set(_list_keys(s3, bucket, _quarantine_twin(raw_prefix) + "/", suffix=CHUNK_SUFFIX))
    if not chunk_keys:
        _refuse_to_empty(s3, bucket, dataset, raw_prefix, lake_partition)
    batches: list[pa.Table] = []
    rejects: list[dict[str, Any]] = []
    quarantined = raw_rows = 0
    for key in chunk_keys:
        chunk = ChunkKey.parse(key)
        records = _read_jsonl(s3, bucket, key)
        twin = replace(chunk, prefix=_quarantine_twin(chunk.prefix)).key
        bad_rows = {r["row"] for r in _read_jsonl(s3, bucket, twin)} if twin in twins else set()
        kept = [r for i, r in enumerate(records) if chunk.row_from + i not in bad_rows]
        quarantined += len(records) - len(kept)
        raw_rows += len(records)
        batch = typed_batch(kept, dataset.columns)
        rejects += batch.rejects
        table = batch.table
        ordinals = pa.array(range(raw_rows - len(records), raw_rows - len(records) + table.num_rows), pa.int64())
        batches.append(table.append_column(_ORDINAL, ordinals))
    schema = pa.schema([(c.name, ARROW_TYPES[c.type]) for c in dataset.columns] + [(_ORDINAL, pa.int64())])
    typed = pa.concat_tables(batches) if batches else schema.empty_table()
    if rejects:
        _write_rejects(s3, bucket, dataset, lake_partition, rejects)
    deduped = _newest_per_key(typed, list(dataset.key)).drop_columns([_ORDINAL])
    deduped = deduped.append_column(PARTITION_COLUMN, pa.array([lake_partition] * deduped.num_rows, pa.string()))
    files = _write_parts(s3, bucket, dataset.lake_prefix(lake_partition), deduped)
    return LakeBuild(
        raw_rows=raw_rows,
        quarantined=quarantined,
        rejected=len(rejects),
        duplicates=typed.num_rows - deduped.num_rows,
        lake_rows=deduped.num_rows,
        chunks=len(chunk_keys),
        files=tuple(files),
    )


def lake_files(s3: Any, bucket: str, dataset: Dataset, lake_partition: str) -> list[str]:
    return sorted(_list_keys(s3, bucket, dataset.lake_prefix(lake_partition) + "/", suffix=".parquet"))


def _newest_per_key(table: pa.Table, key: list[str]) -> pa.Table:
    """One row per key, the last delivered (highest ordinal), sorted by the key."""
    if table.num_rows == 0:
        return table
    newest = table.group_by(key, use_threads=False).aggregate([(_ORDINAL, "max")])[f"{_ORDINAL}_max"]
    kept = table.filter(pc.is_in(table[_ORDINAL], value_set=newest))
    return kept.sort_by([(name, "ascending") for name in key])


def _write_parts(s3: Any, bucket: str, prefix: str, table: pa.Table) -> list[str]:
    keys = []
    for part, start in enumerate(range(0, max(table.num_rows, 1), ROWS_PER_PART)):
        buffer = io.BytesIO()
        pq.write_table(table.slice(start, ROWS_PER_PART), buffer, compression="zstd")
        key = f"{prefix}/part-{part:05d}.parquet"
        s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
        keys.append(key)
    stale = [k for k in _list_keys(s3, bucket, prefix + "/", suffix=".parquet") if k not in keys]
    if stale:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale], "Quiet": True})
    return keys


def _write_rejects(s3: Any, bucket: str, dataset: Dataset, partition: str, rejects: list[dict[str, Any]]) -> None:
    body = gzip.compress("".join(json.dumps(r, default=str) + "\n" for r in rejects).encode(), mtime=0)
    key = f"{dataset.quarantine_prefix(partition)}/lake-rejects.jsonl.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def _quarantine_twin(raw_prefix: str) -> str:
    """The quarantine zone's prefix for a raw one: the worker writes a chunk's rejects under the same path there."""
    return "quarantine/" + raw_prefix.removeprefix("raw/")


def _refuse_to_empty(s3: Any, bucket: str, dataset: Dataset, raw_prefix: str, lake_partition: str) -> None:
    """No raw chunks at all: fine for a partition that never had rows, refused for one whose lake has some.

    A chain that found nothing leaves no chunks, and its lake partition is rightly empty; but the
    raw data of a partition with lake rows is missing (expired, deleted, or another bucket), and
    building from it would replace those rows, and then the warehouse's, with nothing.
    """
    held = 0
    for key in lake_files(s3, bucket, dataset, lake_partition):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        held += pq.ParquetFile(io.BytesIO(body)).metadata.num_rows
    if held:
        lake = f"s3://{bucket}/{dataset.lake_prefix(lake_partition)}/"
        raise LakeInputError(
            f"no raw chunks under s3://{bucket}/{raw_prefix}/, but {lake} holds {held} rows: "
            "refusing to replace them with nothing (extract the partition again first)"
        )


def _read_jsonl(s3: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    """A chunk's records; one that is not gzip JSON Lines is a `LakeInputError` naming it (and the line)."""
    where = f"s3://{bucket}/{key}"
    try:
        body = gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (OSError, EOFError, zlib.error) as exc:
        raise LakeInputError(f"{where}: corrupt gzip ({str(exc) or type(exc).__name__})") from exc
    records = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line:
            continue
        try:
            record = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LakeInputError(f"{where}: line {number} is not JSON ({exc})") from exc
        if not isinstance(record, dict):
            raise LakeInputError(f"{where}: line {number} is not a JSON object")
        records.append(record)
    return records


def _list_keys(s3: Any, bucket: str, prefix: str, suffix: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith(suffix):
                yield obj["Key"]
