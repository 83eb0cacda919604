"""Rows spread over buckets on local disk by a hash of their key, so deduplication needs one bucket in memory.

Keeping the newest delivery of each key is a question about the whole partition, but every
delivery of one key lands in the same bucket, so each bucket can be answered alone. The number
of buckets grows with the partition (at most `rows_per_bucket` each, estimated from the chunks' row
ranges), which keeps the memory a bucket takes the same at a million rows as at ten million.
Rows are gathered up to `batch_rows` before they are split, so a bucket's file is written in
batches of useful size, and that buffer is bounded too.

The hash is this process's own (Python's string hash, once per distinct value in a batch, and
the bits of other values), which is all a bucket needs: the same key, the same bucket, within
one build. The bucket count is a power of two, so a bucket is the top bits of the hash times
the golden-ratio constant (Fibonacci hashing), which spreads even keys whose values step by a
power of two. It is all Arrow compute: the production install brings no NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["KeyBuckets"]


class KeyBuckets:
    def __init__(
        self,
        directory: Path,
        schema: pa.Schema,
        key: Sequence[str],
        expected_rows: int,
        rows_per_bucket: int = 100_000,
        batch_rows: int = 100_000,
    ):
        self._directory = directory
        self._schema = schema
        self._key = list(key)
        self._bits = max(0, math.ceil(math.log2(max(1, expected_rows) / rows_per_bucket)))
        self.count = 1 << self._bits
        self._shift = pa.scalar(64 - self._bits, pa.uint64())
        self._batch_rows = batch_rows
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._writers: list[pa.ipc.RecordBatchStreamWriter] = []
        self._paths = [directory / f"bucket-{index:05d}.arrows" for index in range(self.count)]

    def add(self, table: pa.Table) -> None:
        if table.num_rows:
            self._buffer.append(table)
            self._buffered += table.num_rows
            if self._buffered >= self._batch_rows:
                self._spill()

    def buckets(self) -> Iterator[pa.Table]:
        """Each bucket's rows, one bucket at a time (its file removed once read)."""
        self._spill()
        for writer in self._writers:
            writer.close()
        self._writers = []
        for path in self._paths:
            if not path.exists():
                continue
            with pa.OSFile(str(path)) as source:
                table = pa.ipc.open_stream(source).read_all()
            path.unlink()
            yield table

    def _spill(self) -> None:
        if not self._buffer:
            return
        rows = pa.concat_tables(self._buffer).combine_chunks()
        self._buffer, self._buffered = [], 0
        if not self._writers:
            self._writers = [pa.ipc.new_stream(str(path), self._schema) for path in self._paths]
        if self.count == 1:
            self._writers[0].write_table(rows)
            return
        bucket = pc.shift_right(pc.multiply(_key_hash(rows, self._key), _GOLDEN), self._shift)
        order = pc.sort_indices(bucket)
        grouped = rows.take(order)
        runs = pc.value_counts(bucket.take(order))
        start = 0
        for index, length in zip(runs.field("values").to_pylist(), runs.field("counts").to_pylist(), strict=True):
            self._writers[index].write_table(grouped.slice(start, length))
            start += length


_GOLDEN = pa.scalar(0x9E3779B97F4A7C15, pa.uint64())
_MIX = pa.scalar(1_000_003, pa.uint64())


def _key_hash(rows: pa.Table, key: Sequence[str]) -> pa.UInt64Array:
    """A uint64 per row from its key's values, equal for equal keys (nulls hash alike); it wraps on overflow."""
    combined = pa.nulls(rows.num_rows, pa.uint64()).fill_null(0)
    for name in key:
        combined = pc.bit_wise_xor(pc.multiply(combined, _MIX), _column_hash(rows.column(name).combine_chunks()))
    return combined


def _column_hash(values: pa.Array) -> pa.UInt64Array:
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        encoded = pc.dictionary_encode(values)
        distinct = pa.array([hash(v) & 0xFFFFFFFFFFFFFFFF for v in encoded.dictionary.to_pylist()], pa.uint64())
        return distinct.take(encoded.indices).fill_null(0)
    if pa.types.is_floating(values.type):
        return values.cast(pa.float64()).fill_null(0.0).view(pa.uint64())
    as_integers = values.view(pa.int32() if values.type.bit_width == 32 else pa.int64()).cast(pa.int64())
    return as_integers.fill_null(0).view(pa.uint64())
