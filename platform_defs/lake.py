"""Raw chunks to typed, deduplicated Parquet: the lake zone of one dataset partition.

Every record is accounted for: raw rows = lake rows + quarantined by the worker + rejected here
(a value that will not take its column's type) + duplicates (the same key delivered again; the
newest chain wins, since chain ids sort by start time). Rejected rows go to the quarantine zone
with their reason, like the worker's. The Parquet parts are written before stale parts are
removed, so a reader never sees a partition with nothing in it.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from platform_defs.datasets import Dataset

__all__ = ["PARTITION_COLUMN", "LakeBuild", "build_lake_partition", "lake_files"]

ARROW_TYPES = {
    "string": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "float": pa.float64(),
    "integer": pa.int64(),
}
ROWS_PER_PART = 1_000_000
PARTITION_COLUMN = "_partition"  # lets the warehouse replace exactly one partition on reload


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
    chunk_keys = sorted(_list_keys(s3, bucket, raw_prefix + "/", suffix=".jsonl.gz"))
    # One listing of the quarantine zone rather than a GET per chunk: most chunks have no twin.
    twins = set(_list_keys(s3, bucket, _quarantine_twin(raw_prefix) + "/", suffix=".jsonl.gz"))
    frames = []
    quarantined = 0
    for key in chunk_keys:
        records = _read_jsonl(s3, bucket, key)
        twin = _quarantine_twin(key)
        bad_rows = {r["row"] for r in _read_jsonl(s3, bucket, twin)} if twin in twins else set()
        quarantined += len(bad_rows)
        first_row = int(key.rsplit("/chunk-", 1)[1].split("-")[0])
        kept = [r for i, r in enumerate(records) if first_row + i not in bad_rows]
        if kept:
            frames.append(pd.DataFrame.from_records(kept, columns=[c.name for c in dataset.columns]))
    raw_rows = quarantined + sum(len(f) for f in frames)
    frame = pd.concat(frames, ignore_index=True) if frames else _empty(dataset)
    typed, rejects = _typed(frame, dataset)
    if rejects:
        _write_rejects(s3, bucket, dataset, lake_partition, rejects)
    deduped = typed.drop_duplicates(subset=list(dataset.key), keep="last").sort_values(list(dataset.key))
    deduped[PARTITION_COLUMN] = lake_partition
    files = _write_parts(s3, bucket, dataset.lake_prefix(lake_partition), deduped, dataset)
    return LakeBuild(
        raw_rows=raw_rows,
        quarantined=quarantined,
        rejected=len(rejects),
        duplicates=len(typed) - len(deduped),
        lake_rows=len(deduped),
        chunks=len(chunk_keys),
        files=tuple(files),
    )


def lake_files(s3: Any, bucket: str, dataset: Dataset, lake_partition: str) -> list[str]:
    return sorted(_list_keys(s3, bucket, dataset.lake_prefix(lake_partition) + "/", suffix=".parquet"))


def _typed(frame: pd.DataFrame, dataset: Dataset) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Cast each column to its type; a row whose value will not cast is rejected with the reason."""
    out = pd.DataFrame(index=frame.index)
    reasons = pd.Series("", index=frame.index)
    for column in dataset.columns:
        raw = frame[column.name]
        present = raw.notna() & (raw.astype("string") != "")
        if column.type in ("date", "timestamp"):
            cast = pd.to_datetime(raw.where(present), errors="coerce", utc=True, format="ISO8601")
            cast = cast.dt.tz_localize(None)
            out[column.name] = cast.dt.date if column.type == "date" else cast
        elif column.type in ("float", "integer"):
            cast = pd.to_numeric(raw.where(present), errors="coerce")
            if column.type == "integer":
                fractional = cast.notna() & (cast % 1 != 0)
                cast = cast.where(~fractional)
                out[column.name] = cast.astype("Int64")
            else:
                out[column.name] = cast.astype("float64")
        else:
            cast = raw.where(present)
            out[column.name] = cast.astype("string")
        failed = present & cast.isna()
        reasons[failed & (reasons == "")] = f"{column.name!r} is not a valid {column.type}"
        if column.required:
            reasons[~present & (reasons == "")] = f"{column.name!r} is missing"
    bad = reasons != ""
    rejects = [
        {"reason": reason, "record": {k: _plain(v) for k, v in record.items()}}
        for reason, record in zip(reasons[bad], frame[bad].to_dict(orient="records"), strict=True)
    ]
    return out[~bad], rejects


def _write_parts(s3: Any, bucket: str, prefix: str, frame: pd.DataFrame, dataset: Dataset) -> list[str]:
    schema = pa.schema([(c.name, ARROW_TYPES[c.type]) for c in dataset.columns] + [(PARTITION_COLUMN, pa.string())])
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
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


def _quarantine_twin(raw_key: str) -> str:
    return "quarantine/" + raw_key.removeprefix("raw/")


def _read_jsonl(s3: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    body = gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return [json.loads(line) for line in body.splitlines() if line]


def _list_keys(s3: Any, bucket: str, prefix: str, suffix: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith(suffix):
                yield obj["Key"]


def _empty(dataset: Dataset) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series(dtype="object") for c in dataset.columns})


def _plain(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and value != value) else value
