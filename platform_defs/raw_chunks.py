"""A raw chunk's records, typed in Arrow: what the lake step builds a partition from.

A chunk holding the vendor's JSON body (`.json.gz`) is parsed by Arrow's JSON reader, given the
dataset's columns as JSON types, in C++ and without a Python object per record. That is the
fast path; the definition is `lambda_workers.chain.chunks.chunk_records`, the records exactly as
the worker parsed them. Whenever the reader cannot take a body as it is (a value of another
JSON type than its column's, a body that is a list, anything malformed) the chunk is read the
defining way instead, and typed value by value where needed, so both paths keep and reject the
same rows for the same reasons.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from lambda_workers.chain.chunk_keys import BODY_SUFFIX
from lambda_workers.chain.chunks import RECORDS_METADATA, chunk_records, decompressed
from platform_defs.lake_types import ColumnSpec, TypedBatch, typed_batch, typed_table

__all__ = ["ChunkRows", "read_chunk"]

_JSON_TYPES: Mapping[str, pa.DataType] = {
    "string": pa.string(),
    "date": pa.string(),
    "timestamp": pa.string(),
    "epoch_seconds": pa.float64(),
    "epoch_millis": pa.float64(),
    "float": pa.float64(),
    "integer": pa.int64(),
}


@dataclass(frozen=True)
class ChunkRows:
    """One chunk: how many records it holds, and those not quarantined by the worker, typed."""

    records: int
    typed: TypedBatch


def read_chunk(
    key: str, compressed: bytes, metadata: Mapping[str, str], columns: Sequence[ColumnSpec], quarantined: set[int]
) -> ChunkRows:
    """The chunk's rows; `quarantined` are the indexes (in the chunk) the worker set aside, left out here.

    Raises `lambda_workers.chain.chunks.ChunkFormatError` for a chunk that cannot be read at all.
    """
    if key.endswith(BODY_SUFFIX) and RECORDS_METADATA in metadata:
        table = _arrow_records(compressed, metadata[RECORDS_METADATA], columns)
        if table is not None:
            kept = table
            if quarantined:
                mask = pa.array([index not in quarantined for index in range(table.num_rows)], pa.bool_())
                kept = table.filter(mask)
            return ChunkRows(table.num_rows, typed_table(kept, columns))
    records = chunk_records(key, compressed, metadata)
    kept_records = [record for index, record in enumerate(records) if index not in quarantined]
    return ChunkRows(len(records), typed_batch(kept_records, columns))


def _arrow_records(compressed: bytes, path: str, columns: Sequence[ColumnSpec]) -> pa.Table | None:
    """The body's records as a table of the declared columns, or None where the reader cannot take it."""
    if not path:
        return None  # a body that is the list itself: the reader takes objects only
    body = decompressed(compressed)
    parts = path.split(".")
    nested: pa.DataType = pa.list_(pa.struct([(c.name, _JSON_TYPES[c.type]) for c in columns]))
    for part in reversed(parts[1:]):
        nested = pa.struct([(part, nested)])
    options = pa_json.ParseOptions(
        explicit_schema=pa.schema([(parts[0], nested)]), unexpected_field_behavior="ignore", newlines_in_values=True
    )
    try:
        parsed = pa_json.read_json(
            io.BytesIO(body),
            read_options=pa_json.ReadOptions(block_size=len(body) + 1, use_threads=False),
            parse_options=options,
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if parsed.num_rows != 1:
        return None  # not one JSON document
    value: Any = parsed.column(0).combine_chunks()
    for part in parts[1:]:
        value = value.field(part)
    if value.null_count:
        return None  # the path is missing or null: the defining reader says so
    records = value.flatten()
    if pc.any(pc.is_null(records)).as_py():
        return None  # a null where a record should be
    return pa.Table.from_struct_array(records)
