"""A dataset's column types in Arrow: raw records in, a typed table and the rejected rows out.

Each column is typed in one vectorised Arrow cast; only a column whose cast fails (a value that
is not of its type) is typed again value by value, to tell exactly which rows to reject and
why. The value-by-value rules are the definition; the vectorised cast is their fast path.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["ARROW_TYPES", "TypedBatch", "typed_batch", "typed_table"]

ARROW_TYPES: Mapping[str, pa.DataType] = {
    "string": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),  # UTC, without a zone: Snowflake's TIMESTAMP_NTZ
    "epoch_seconds": pa.timestamp("us"),  # a number of seconds since 1970-01-01 UTC
    "epoch_millis": pa.timestamp("us"),  # a number of milliseconds since then
    "float": pa.float64(),
    "integer": pa.int64(),
}


class ColumnSpec(Protocol):
    name: str
    type: str
    required: bool


@dataclass(frozen=True)
class TypedBatch:
    table: pa.Table  # the rows whose every value took its type
    rejects: list[dict[str, Any]]  # {"reason", "record"} for each row that did not


class _Invalid(ValueError):
    """A value that does not take its column's type."""


def typed_batch(records: Sequence[Mapping[str, Any]], columns: Sequence[ColumnSpec]) -> TypedBatch:
    """Type `records` column by column; a row with a bad value, or missing a required one, is rejected.

    A row's reason names the first of its columns (in declared order) that is bad or missing.
    """

    def values(name: str) -> list[Any]:
        return [record.get(name) for record in records]

    def rejected(index: int) -> dict[str, Any]:
        return {c.name: records[index].get(c.name) for c in columns}

    return _typed(len(records), columns, values, rejected)


def typed_table(table: pa.Table, columns: Sequence[ColumnSpec]) -> TypedBatch:
    """The same as `typed_batch`, for records already in Arrow (as its JSON reader parsed them).

    A declared column the table lacks is all nulls, as a field missing from every record is.
    """

    def values(name: str) -> pa.Array:
        if name not in table.column_names:
            return pa.nulls(table.num_rows)
        return table.column(name).combine_chunks()

    def rejected(index: int) -> dict[str, Any]:
        row = table.slice(index, 1).to_pylist()[0]
        return {c.name: row.get(c.name) for c in columns}

    return _typed(table.num_rows, columns, values, rejected)


def _typed(
    rows: int,
    columns: Sequence[ColumnSpec],
    values: Callable[[str], list[Any] | pa.Array],
    rejected: Callable[[int], dict[str, Any]],
) -> TypedBatch:
    """The typed table; the reasons are worked out only for the columns with a value bad or missing.

    A clean column costs its cast and a null count, not a reason array per column: typing runs on
    one thread, once per chunk of every partition, and most chunks are clean.
    """
    arrays: dict[str, pa.Array] = {}
    faults: list[tuple[ColumnSpec, pa.Array | None, pa.Array | None]] = []  # column, invalid, missing
    for column in columns:
        typed, invalid = _typed_column(values(column.name), column.type)
        missing = None
        if column.required and typed.null_count:
            missing = pc.is_null(typed) if invalid is None else pc.and_(pc.is_null(typed), pc.invert(invalid))
        if invalid is not None or missing is not None:
            faults.append((column, invalid, missing))
        arrays[column.name] = typed
    table = pa.table(arrays, schema=pa.schema([(c.name, ARROW_TYPES[c.type]) for c in columns]))
    reasons = pa.nulls(rows, pa.string())
    for column, invalid, missing in faults:
        if invalid is not None:
            reason = f"{column.name!r} is not a valid {column.type}"
            reasons = pc.if_else(pc.and_(pc.is_null(reasons), invalid), reason, reasons)
        if missing is not None:
            reasons = pc.if_else(pc.and_(pc.is_null(reasons), missing), f"{column.name!r} is missing", reasons)
    if reasons.null_count == rows:
        return TypedBatch(table, [])
    rejects = [
        {"reason": reason, "record": rejected(index)}
        for index, reason in enumerate(reasons.to_pylist())
        if reason is not None
    ]
    return TypedBatch(table.filter(pc.is_null(reasons)), rejects)


def _typed_column(values: list[Any] | pa.Array, type_name: str) -> tuple[pa.Array, pa.Array | None]:
    """The column as its Arrow type, and which values were present but not of that type (None: none were).

    An absent value (None, or an empty string) is null, never invalid.
    """
    target = ARROW_TYPES[type_name]
    try:
        return _cast_all(_present(values), type_name, target), None
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, _Invalid):
        one = _ONE_VALUE[type_name]
        typed: list[Any] = []
        invalid: list[bool] = []
        for value in values.to_pylist() if isinstance(values, pa.Array) else values:
            try:
                typed.append(None if _absent(value) else one(value))
                invalid.append(False)
            except (_Invalid, ValueError, TypeError, OverflowError):
                typed.append(None)
                invalid.append(True)
        return pa.array(typed, target), pa.array(invalid, pa.bool_())


def _present(values: list[Any] | pa.Array) -> pa.Array:
    """The values in Arrow with every absent one (None or "") null; raises when Arrow cannot hold them as one type."""
    if not isinstance(values, pa.Array):
        return pa.array([None if _absent(value) else value for value in values])
    if pa.types.is_string(values.type):
        return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
    return values


def _cast_all(inferred: pa.Array, type_name: str, target: pa.DataType) -> pa.Array:
    """The fast path: one Arrow cast of the whole column; raises when any value will not take the type."""
    if pa.types.is_null(inferred.type):
        return pa.nulls(len(inferred), target)
    if type_name == "string":
        if not pa.types.is_string(inferred.type):
            raise _Invalid("not all strings")
        return inferred
    if type_name in ("float", "integer"):
        if not (
            pa.types.is_integer(inferred.type)
            or pa.types.is_floating(inferred.type)
            or pa.types.is_string(inferred.type)
        ):
            raise _Invalid("not numbers")
        numbers = pc.cast(inferred, pa.float64()) if not pa.types.is_integer(inferred.type) else inferred
        fractional = type_name == "integer" and pa.types.is_floating(numbers.type)
        if fractional and pc.all(pc.equal(numbers, pc.floor(numbers))).as_py() is False:
            raise _Invalid("a fraction")
        if pa.types.is_floating(numbers.type) and pc.any(pc.is_nan(numbers)).as_py():
            raise _Invalid("NaN")
        return pc.cast(numbers, target)
    if type_name in _EPOCH_MICROS:
        if not (
            pa.types.is_integer(inferred.type)
            or pa.types.is_floating(inferred.type)
            or pa.types.is_string(inferred.type)
        ):
            raise _Invalid("not numbers")
        micros = pc.multiply(pc.cast(inferred, pa.float64()), float(_EPOCH_MICROS[type_name]))
        if pc.any(pc.is_nan(micros)).as_py():
            raise _Invalid("NaN")
        return pc.cast(pc.cast(pc.round(micros), pa.int64()), target)
    if not pa.types.is_string(inferred.type):
        raise _Invalid("not text")
    if type_name == "date":
        if pc.all(pc.equal(pc.utf8_length(inferred), 10)).as_py() is False:
            raise _Invalid("not a plain date")
        return pc.cast(inferred, pa.date32())
    try:
        return pc.cast(pc.cast(inferred, pa.timestamp("us", tz="UTC")), target)
    except pa.ArrowInvalid:
        return pc.cast(inferred, target)


def _absent(value: Any) -> bool:
    return value is None or value == ""


def _as_number(value: Any) -> float:
    if isinstance(value, bool):
        raise _Invalid("a boolean")
    number = float(value)
    if math.isnan(number):
        raise _Invalid("NaN")
    return number


def _as_integer(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = _as_number(value)
    if number != math.floor(number):
        raise _Invalid("a fraction")
    return int(number)


def _as_string(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _as_timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _Invalid("not text")
    parsed = datetime.fromisoformat(value)
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def _as_date(value: Any) -> date:
    return _as_timestamp(value).date()


_EPOCH_MICROS = {"epoch_seconds": 1_000_000, "epoch_millis": 1_000}


def _epoch(unit_micros: int) -> Callable[[Any], datetime]:
    def as_timestamp(value: Any) -> datetime:
        micros = round(_as_number(value) * unit_micros)
        return datetime(1970, 1, 1) + timedelta(microseconds=micros)

    return as_timestamp


_ONE_VALUE: Mapping[str, Callable[[Any], Any]] = {
    "string": _as_string,
    "date": _as_date,
    "timestamp": _as_timestamp,
    "float": _as_number,
    "integer": _as_integer,
    "epoch_seconds": _epoch(_EPOCH_MICROS["epoch_seconds"]),
    "epoch_millis": _epoch(_EPOCH_MICROS["epoch_millis"]),
}
