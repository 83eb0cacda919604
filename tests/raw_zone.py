"""Reading the raw zone back in tests, the way the platform defines a chunk's records."""

from __future__ import annotations

from typing import Any

from lambda_workers.chain.chunk_keys import SUFFIXES
from lambda_workers.chain.chunks import chunk_records


def raw_records(s3: Any, bucket: str, prefix: str = "raw/") -> list[dict[str, Any]]:
    """Every record of every chunk under `prefix` (raw or quarantine), in key order; manifests are not chunks."""
    records: list[dict[str, Any]] = []
    keys = [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
        if obj["Key"].endswith(SUFFIXES)
    ]
    for key in sorted(keys):
        response = s3.get_object(Bucket=bucket, Key=key)
        records += chunk_records(key, response["Body"].read(), response.get("Metadata", {}))
    return records
