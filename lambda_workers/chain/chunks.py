"""Chunks in the raw zone, one per page, keyed by the row range, in one of two forms.

- A page's body as the vendor delivered it (`.json.gz`), when the source hands it over with the
  dotted path of its records (a JSON API). Nothing is re-encoded: the raw zone keeps exactly
  what came, and writing it costs one compression. The path travels with the object, in its
  metadata, so a reader needs nothing but the chunk.
- Records as JSON Lines (`.jsonl.gz`), for every other source: its records as parsed from a
  feed file, an XML page or a job's result. The quarantine zone is always in this form.

Both are gzip at level 1: measured on price pages it compresses a body about fivefold at about
a microsecond a row, where level 5 over per-record JSON Lines took eight.

The keys are `ChunkKey`s (`lambda_workers.chain.chunk_keys`), whose order is row order. A link
re-run after a kill starts from the committed row count, so it rewrites the same keys;
`discard_uncommitted` removes what a killed attempt left past that point (a page can differ on
the re-run when the source has grown meanwhile).

Writes go out on a thread of their own, so compressing and storing a page overlaps fetching the
next; `flush` waits for them all and raises the first failure. The runner flushes before every
commit, so a cursor never covers a chunk that is not durably stored.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections import deque
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from lambda_workers.chain.chunk_keys import (
    BODY_SUFFIX,
    RECORDS_SUFFIX,
    ChunkKey,
    chunk_listing,
    chunks_from_row,
    manifest_key,
)
from lambda_workers.chain.status import Refresh
from lambda_workers.sources.base import Delivered, records_at

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from lambda_workers.chain.cursor_store import CursorRecord

__all__ = [
    "RECORDS_METADATA",
    "ChainManifest",
    "ChunkBody",
    "ChunkFormatError",
    "ChunkWriter",
    "chunk_records",
    "decompressed",
    "encode_jsonl",
]

RECORDS_METADATA = "records"  # S3 user metadata of a body chunk: the dotted path of its records list
COMPRESS_LEVEL = 1
MAX_PENDING_WRITES = 2  # pages compressed and stored behind the one being fetched: bounds a link's memory


@dataclass(frozen=True)
class ChainManifest:
    """What a finished chain's rows are: written once it is done, read by the lake step.

    The newest full chain under a partition holds its whole state, so the chains before it are
    superseded: the lake step need not read them, and they can be removed after a retention.
    """

    chain_id: str
    refresh: Refresh
    rows: int
    finished_at: str

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ChainManifest:
        """The manifest; `ChunkFormatError` if it is not one."""
        try:
            raw = json.loads(data)
            return cls(str(raw["chain_id"]), Refresh(raw["refresh"]), int(raw["rows"]), str(raw["finished_at"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ChunkFormatError(f"not a chain manifest ({type(exc).__name__}: {exc})") from exc


class ChunkFormatError(ValueError):
    """A chunk that is not what its name says; the message says what is wrong, the caller names the object."""


@dataclass(frozen=True)
class ChunkBody:
    """What to store for one chunk: the (uncompressed) bytes, their suffix, and the object's metadata."""

    data: bytes
    suffix: str
    metadata: Mapping[str, str]

    @classmethod
    def of_records(cls, records: Iterable[Mapping[str, Any]]) -> ChunkBody:
        lines = "".join(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n" for record in records)
        return cls(lines.encode(), RECORDS_SUFFIX, {})

    @classmethod
    def of_delivery(cls, delivered: Delivered) -> ChunkBody:
        return cls(delivered.body, BODY_SUFFIX, {RECORDS_METADATA: delivered.records_path})


def encode_jsonl(records: Iterable[Mapping[str, Any]]) -> bytes:
    """Records as a gzip JSON Lines chunk; mtime 0 so a re-run writes byte-identical objects."""
    return gzip.compress(ChunkBody.of_records(records).data, COMPRESS_LEVEL, mtime=0)


def chunk_records(key: str, compressed: bytes, metadata: Mapping[str, str]) -> list[dict[str, Any]]:
    """The records a chunk holds, in order, whichever its form (told by the key's suffix).

    `ChunkFormatError` says what is wrong with it (and on which line, for JSON Lines).
    """
    data = decompressed(compressed)
    if key.endswith(BODY_SUFFIX):
        return _body_records(data, metadata.get(RECORDS_METADATA))
    records = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line:
            continue
        try:
            record = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ChunkFormatError(f"line {number} is not JSON ({exc})") from exc
        if not isinstance(record, dict):
            raise ChunkFormatError(f"line {number} is not a JSON object")
        records.append(record)
    return records


def decompressed(compressed: bytes) -> bytes:
    """A chunk's stored bytes uncompressed; `ChunkFormatError` if they are not gzip."""
    try:
        return gzip.decompress(compressed)
    except (OSError, EOFError, zlib.error) as exc:
        raise ChunkFormatError(f"corrupt gzip ({str(exc) or type(exc).__name__})") from exc


def _body_records(data: bytes, path: str | None) -> list[dict[str, Any]]:
    if path is None:
        raise ChunkFormatError(f"a delivered body without the {RECORDS_METADATA!r} metadata naming its records")
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ChunkFormatError(f"the body is not JSON ({exc})") from exc
    try:
        records = records_at(body, path)
    except KeyError:
        raise ChunkFormatError(f"the body has no {path!r} list") from None
    if not isinstance(records, list) or not all(isinstance(item, dict) for item in records):
        raise ChunkFormatError(f"{path or 'the body'!r} is not a list of objects")
    return records


class ChunkWriter:
    def __init__(self, client: S3Client, bucket: str):
        self._client = client
        self.bucket = bucket
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future[None]] = deque()

    def write(self, chunk: ChunkKey, body: ChunkBody) -> None:
        """Compress and store `body` under `chunk` in the background; waits while too many are pending."""
        if chunk.suffix != body.suffix:
            raise ValueError(f"chunk {chunk.key} is named for another form than its body ({body.suffix})")
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chunk-writer")
        while len(self._pending) >= MAX_PENDING_WRITES:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(self._put, chunk.key, body))

    def flush(self) -> None:
        """Wait for every pending write; the first that failed raises here."""
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        """Stop the writing thread (a warm Lambda environment keeps none running between links).

        A link that ends normally has flushed at its last commit; one that raised has its own
        error to report, and what it left unwritten is past its committed cursor.
        """
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._pending.clear()

    def _put(self, key: str, body: ChunkBody) -> None:
        compressed = gzip.compress(body.data, COMPRESS_LEVEL, mtime=0)
        self._client.put_object(
            Bucket=self.bucket, Key=key, Body=compressed, ContentEncoding="gzip", Metadata=dict(body.metadata)
        )

    def write_manifest(self, prefix: str, record: CursorRecord) -> None:
        """The finished chain's manifest, which tells the lake step whether older chains are superseded."""
        if record.refresh is None:
            return
        manifest = ChainManifest(record.chain_id, record.refresh, record.rows, record.updated_at)
        self._client.put_object(Bucket=self.bucket, Key=manifest_key(prefix, record.chain_id), Body=manifest.to_json())

    def discard_uncommitted(self, prefix: str, chain_id: str, committed_rows: int) -> list[str]:
        """Delete the chain's chunks that start at or past `committed_rows`: a killed attempt's leftovers.

        `StartAfter` the bare row number lists exactly the keys whose range starts there or later.
        """
        start_after = chunks_from_row(prefix, chain_id, committed_rows)
        listing = chunk_listing(prefix, chain_id)
        paginator = self._client.get_paginator("list_objects_v2")
        stale = [
            obj["Key"]
            for page in paginator.paginate(Bucket=self.bucket, Prefix=listing, StartAfter=start_after)
            for obj in page.get("Contents", [])
        ]
        for start in range(0, len(stale), 1000):
            batch = [{"Key": key} for key in stale[start : start + 1000]]
            self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        return stale
