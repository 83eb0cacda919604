"""Chunks in the raw zone: gzip JSON Lines, one object per page, keyed by the row range.

The keys are `ChunkKey`s (`lambda_workers.chain.chunk_keys`), whose order is row order. A link
re-run after a kill starts from the committed row count, so it rewrites the same keys;
`discard_uncommitted` removes what a killed attempt left past that point (a page can differ on
the re-run when the source has grown meanwhile).
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from lambda_workers.chain.chunk_keys import ChunkKey, chunk_listing, chunks_from_row

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["ChunkWriter", "encode_jsonl"]


def encode_jsonl(records: Iterable[Mapping[str, Any]]) -> bytes:
    """Records as gzip JSON Lines; mtime 0 so a re-run writes byte-identical objects."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=5, mtime=0) as gz:
        for record in records:
            gz.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode())
            gz.write(b"\n")
    return buffer.getvalue()


class ChunkWriter:
    def __init__(self, client: S3Client, bucket: str):
        self._client = client
        self.bucket = bucket

    def write(self, chunk: ChunkKey, body: bytes) -> None:
        self._client.put_object(Bucket=self.bucket, Key=chunk.key, Body=body, ContentEncoding="gzip")

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
