"""Raw chunks to typed, deduplicated Parquet: the lake zone of one dataset partition.

Every record is accounted for: raw rows = lake rows + quarantined by the worker + rejected here
(a value that will not take its column's type) + duplicates (the same key delivered again; the
newest chain wins, since chain ids sort by start time). Rejected rows go to the quarantine zone
with their reason, like the worker's. The Parquet parts are written before stale parts are
removed, so a reader never sees a partition with nothing in it.

The build streams: chunks are fetched a few at a time on threads and typed one at a time on the
building thread (`platform_defs.raw_chunks`, Arrow's JSON reader for a vendor's body), spread
over buckets on local disk by key (`platform_defs.key_buckets`), and each bucket is
deduplicated, sorted by the key and appended to the Parquet part being written. Its memory is a
few chunks and one bucket, the same for a partition of a million rows as for one of ten million.
Each part is sorted by the key; a partition of more than one bucket is sorted within each
bucket's rows.

Arrow's allocator (mimalloc) keeps what it frees for reuse, in a heap per thread, and how much
it keeps grows with what is allocated at once. So the typing stays off the fetching threads
(typed on all four, each with a heap of its own, the step peaked 40-60 MB higher, for a build
hardly faster on two cores; a task of one vCPU has no second core to type on), and a bucket
holds at most 50,000 rows, not 100,000 (30-40 MB less at ten million rows). Buckets are gathered
into row groups of at least 50,000 rows, as large as one bucket of 100,000 made them: a row
group of one bucket made the Parquet 16 % larger.
"""

from __future__ import annotations

import gzip
import io
import json
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from boto3.s3.transfer import TransferConfig

from lambda_workers.chain.chunk_keys import (
    MANIFEST_NAME,
    RECORDS_SUFFIX,
    SUFFIXES,
    ChunkKey,
    chain_prefix,
    manifest_chain,
)
from lambda_workers.chain.chunks import ChainManifest, ChunkFormatError, chunk_records
from lambda_workers.chain.status import Refresh
from platform_defs.datasets import Dataset
from platform_defs.key_buckets import KeyBuckets
from platform_defs.lake_types import ARROW_TYPES
from platform_defs.raw_chunks import ChunkRows, read_chunk

__all__ = ["PARTITION_COLUMN", "LakeBuild", "LakeInputError", "build_lake_partition", "lake_files"]

ROWS_PER_PART = 1_000_000
ROWS_PER_BUCKET = 50_000  # rows deduplicated in memory at once: the bound on the build's memory
ROWS_PER_ROW_GROUP = 50_000  # deduplicated buckets gathered into a row group: at least this many rows
READ_AHEAD = 4  # chunks fetched at once, on threads: S3 round trips overlap the typing
PARTITION_COLUMN = "_partition"  # lets the warehouse replace exactly one partition on reload
_ORDINAL = "__ordinal"  # delivery order across the partition's chunks: the last delivery of a key wins
# Parts go up from local disk in 8 MB pieces, two at a time: boto3's default of ten at once would
# hold 80 MB of one file in memory, more than the build itself needs.
_UPLOAD = TransferConfig(max_concurrency=2, multipart_chunksize=8 * 1024 * 1024)
_T = TypeVar("_T")
_R = TypeVar("_R")


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
    superseded_chains: int = 0  # chains under the partition a newer full chain replaced: not read
    superseded_rows: int = 0  # their raw rows
    removed_chains: int = 0  # superseded chains past their retention, removed by this build


@dataclass
class _Tally:
    raw_rows: int = 0
    quarantined: int = 0
    rejected: int = 0
    typed_rows: int = 0
    lake_rows: int = 0


def build_lake_partition(
    s3: Any,
    bucket: str,
    dataset: Dataset,
    raw_prefix: str,
    lake_partition: str,
    retain_superseded: timedelta = timedelta(days=7),
    now: datetime | None = None,
) -> LakeBuild:
    """Rebuild `lake/<dataset>/<lake_partition>/` from the chains under `raw_prefix` that make its state.

    Those are the newest full chain (by its manifest) and the chains after it, of each shard;
    older chains are superseded, and removed once `retain_superseded` has passed since the
    chain that superseded them finished.
    """
    raw = _raw_chains(s3, bucket, raw_prefix)
    removed = _remove_expired(s3, bucket, raw, (now or datetime.now(UTC)) - retain_superseded)
    chunks = raw.current
    # One listing of the quarantine zone rather than a GET per chunk: most chunks have no twin.
    twins = set(_list_keys(s3, bucket, _quarantine_twin(raw_prefix) + "/", suffix=RECORDS_SUFFIX))
    if not chunks:
        _refuse_to_empty(s3, bucket, dataset, raw_prefix, lake_partition)
    schema = pa.schema([(c.name, ARROW_TYPES[c.type]) for c in dataset.columns] + [(_ORDINAL, pa.int64())])
    tally = _Tally()
    with tempfile.TemporaryDirectory(prefix="baton-lake-") as scratch:
        expected = sum(c.row_to - c.row_from for c in chunks)
        buckets = KeyBuckets(Path(scratch), schema, dataset.key, expected, ROWS_PER_BUCKET)
        with gzip.open(Path(scratch) / "rejects.jsonl.gz", "wt", compresslevel=1) as rejects:

            def fetch(chunk: ChunkKey) -> _Fetched:
                return _fetch_chunk(s3, bucket, chunk, twins)

            for fetched in _read_ahead(fetch, chunks, READ_AHEAD):
                rows = _typed_chunk(bucket, dataset, fetched)
                tally.quarantined += rows.records - rows.typed.table.num_rows - len(rows.typed.rejects)
                for reject in rows.typed.rejects:
                    rejects.write(json.dumps(reject, default=str) + "\n")
                tally.rejected += len(rows.typed.rejects)
                table = rows.typed.table
                ordinals = pa.array(range(tally.raw_rows, tally.raw_rows + table.num_rows), pa.int64())
                buckets.add(table.append_column(_ORDINAL, ordinals))
                tally.raw_rows += rows.records
                tally.typed_rows += table.num_rows
        if tally.rejected:
            key = f"{dataset.quarantine_prefix(lake_partition)}/lake-rejects.jsonl.gz"
            s3.upload_file(str(Path(scratch) / "rejects.jsonl.gz"), bucket, key, Config=_UPLOAD)
        files = _write_parts(s3, bucket, dataset, lake_partition, Path(scratch), buckets, tally)
    return LakeBuild(
        raw_rows=tally.raw_rows,
        quarantined=tally.quarantined,
        rejected=tally.rejected,
        duplicates=tally.typed_rows - tally.lake_rows,
        lake_rows=tally.lake_rows,
        chunks=len(chunks),
        files=tuple(files),
        superseded_chains=len(raw.superseded),
        superseded_rows=sum(chain.rows for chain in raw.superseded.values()),
        removed_chains=removed,
    )


@dataclass
class _Superseded:
    """A superseded chain's objects, and when the full chain that replaced it finished."""

    prefix: str
    chain_id: str
    rows: int
    since: datetime


@dataclass
class _RawChains:
    current: list[ChunkKey]  # the chunks to build from, in key (so delivery) order
    superseded: dict[tuple[str, str], _Superseded]  # by (prefix, chain id)


def _raw_chains(s3: Any, bucket: str, raw_prefix: str) -> _RawChains:
    """The partition's chunks, split into the current ones and the superseded chains, per shard prefix."""
    chunks: dict[tuple[str, str], list[ChunkKey]] = {}
    manifests: dict[tuple[str, str], ChainManifest] = {}
    for key in _list_keys(s3, bucket, raw_prefix + "/", suffix=(*SUFFIXES, "/" + MANIFEST_NAME)):
        if (chain := manifest_chain(key)) is not None:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            manifests[chain] = _guarded(bucket, key, lambda body=body: ChainManifest.from_json(body))
        else:
            chunk = ChunkKey.parse(key)
            chunks.setdefault((chunk.prefix, chunk.chain_id), []).append(chunk)
    current: list[ChunkKey] = []
    superseded: dict[tuple[str, str], _Superseded] = {}
    for prefix in sorted({prefix for prefix, _ in chunks}):
        chain_ids = sorted(chain_id for p, chain_id in chunks if p == prefix)
        full = [c for c in chain_ids if (m := manifests.get((prefix, c))) is not None and m.refresh == Refresh.FULL]
        base = full[-1] if full else None
        for chain_id in chain_ids:
            if base is not None and chain_id < base:
                since = datetime.fromisoformat(manifests[(prefix, base)].finished_at)
                rows = sum(c.row_to - c.row_from for c in chunks[(prefix, chain_id)])
                superseded[(prefix, chain_id)] = _Superseded(prefix, chain_id, rows, since)
            else:
                current += chunks[(prefix, chain_id)]
    return _RawChains(sorted(current, key=lambda c: c.key), superseded)


def _remove_expired(s3: Any, bucket: str, raw: _RawChains, superseded_before: datetime) -> int:
    """Delete the superseded chains (raw chunks, quarantine twins, manifest) superseded before the cut-off."""
    expired = [chain for chain in raw.superseded.values() if chain.since < superseded_before]
    for chain in expired:
        for prefix in (chain.prefix, _quarantine_twin(chain.prefix)):
            keys = list(_list_keys(s3, bucket, chain_prefix(prefix, chain.chain_id) + "/", suffix=""))
            for start in range(0, len(keys), 1000):
                batch = [{"Key": key} for key in keys[start : start + 1000]]
                s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    return len(expired)


def lake_files(s3: Any, bucket: str, dataset: Dataset, lake_partition: str) -> list[str]:
    return sorted(_list_keys(s3, bucket, dataset.lake_prefix(lake_partition) + "/", suffix=".parquet"))


def _newest_per_key(table: pa.Table, key: list[str]) -> pa.Table:
    """One row per key, the last delivered (highest ordinal), sorted by the key."""
    if table.num_rows == 0:
        return table
    newest = table.group_by(key, use_threads=False).aggregate([(_ORDINAL, "max")])[f"{_ORDINAL}_max"]
    kept = table.filter(pc.is_in(table[_ORDINAL], value_set=newest))
    return kept.sort_by([(name, "ascending") for name in key])


def _write_parts(
    s3: Any, bucket: str, dataset: Dataset, partition: str, scratch: Path, buckets: KeyBuckets, tally: _Tally
) -> list[str]:
    """Each bucket deduplicated and sorted, appended to parts of about `ROWS_PER_PART` rows, then uploaded.

    Buckets go into a part in row groups of at least `ROWS_PER_ROW_GROUP` rows, a few buckets each:
    a row group of one bucket would be smaller than compresses well.
    """
    prefix = dataset.lake_prefix(partition)
    schema = pa.schema([(c.name, ARROW_TYPES[c.type]) for c in dataset.columns] + [(PARTITION_COLUMN, pa.string())])
    keys: list[str] = []
    writer: pq.ParquetWriter | None = None
    part_rows = 0
    group: list[pa.Table] = []  # deduplicated buckets not yet written, the next row group
    group_rows = 0

    def write_group() -> pq.ParquetWriter:
        """The gathered buckets as one row group of the part being written, which is opened if need be."""
        nonlocal writer, group_rows
        if writer is None:
            writer = pq.ParquetWriter(str(scratch / "part.parquet"), schema, compression="zstd")
        if group:
            writer.write_table(pa.concat_tables(group))  # chunked, not combined: one row group, no copy
        group.clear()
        group_rows = 0
        return writer

    def finish_part() -> None:
        nonlocal writer, part_rows
        write_group().close()
        key = f"{prefix}/part-{len(keys):05d}.parquet"
        s3.upload_file(str(scratch / "part.parquet"), bucket, key, Config=_UPLOAD)
        keys.append(key)
        writer, part_rows = None, 0

    for rows in buckets.buckets():
        deduped = _newest_per_key(rows, list(dataset.key)).drop_columns([_ORDINAL])
        deduped = deduped.append_column(PARTITION_COLUMN, pa.array([partition] * deduped.num_rows, pa.string()))
        group.append(deduped)
        group_rows += deduped.num_rows
        part_rows += deduped.num_rows
        tally.lake_rows += deduped.num_rows
        if group_rows >= ROWS_PER_ROW_GROUP:
            write_group()
        if part_rows >= ROWS_PER_PART:
            finish_part()
    if writer is not None or group or not keys:
        finish_part()  # the rest; for a partition without rows, its one empty part
    stale = [k for k in _list_keys(s3, bucket, prefix + "/", suffix=".parquet") if k not in keys]
    if stale:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale], "Quiet": True})
    return keys


@dataclass(frozen=True)
class _Fetched:
    """A chunk as S3 holds it, and the indexes (in the chunk) of the rows its quarantine twin holds."""

    chunk: ChunkKey
    body: bytes
    metadata: dict[str, str]
    quarantined: set[int]


def _fetch_chunk(s3: Any, bucket: str, chunk: ChunkKey, twins: set[str]) -> _Fetched:
    """The chunk's object and its twin's row indexes, if it has a twin; `LakeInputError` names a bad twin."""
    twin = replace(chunk, prefix=_quarantine_twin(chunk.prefix), suffix=RECORDS_SUFFIX).key
    quarantined: set[int] = set()
    if twin in twins:
        quarantined = {
            int(row["row"]) - chunk.row_from for row in _guarded(bucket, twin, lambda: _twin_rows(s3, bucket, twin))
        }
    response = s3.get_object(Bucket=bucket, Key=chunk.key)
    return _Fetched(chunk, response["Body"].read(), response.get("Metadata", {}), quarantined)


def _typed_chunk(bucket: str, dataset: Dataset, fetched: _Fetched) -> ChunkRows:
    """The fetched chunk's rows, without those its twin holds; `LakeInputError` names a bad object."""
    chunk = fetched.chunk
    return _guarded(
        bucket,
        chunk.key,
        lambda: read_chunk(chunk.key, fetched.body, fetched.metadata, dataset.columns, fetched.quarantined),
    )


def _twin_rows(s3: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    response = s3.get_object(Bucket=bucket, Key=key)
    return chunk_records(key, response["Body"].read(), response.get("Metadata", {}))


def _guarded(bucket: str, key: str, read: Callable[[], _R]) -> _R:
    """`read()`, with a chunk that cannot be read reported as a `LakeInputError` naming its object."""
    try:
        return read()
    except ChunkFormatError as exc:
        raise LakeInputError(f"s3://{bucket}/{key}: {exc}") from exc


def _read_ahead(work: Callable[[_T], _R], items: Iterable[_T], window: int) -> Iterator[_R]:
    """`work` over `items` on `window` threads, results in order, at most `window` of them held at once."""
    with ThreadPoolExecutor(max_workers=window, thread_name_prefix="lake-read") as pool:
        pending: deque[Future[_R]] = deque()
        for item in items:
            pending.append(pool.submit(work, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


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


def _list_keys(s3: Any, bucket: str, prefix: str, suffix: str | tuple[str, ...]) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith(suffix):
                yield obj["Key"]
