"""Seeds: small CSV files loaded as tables, with column types inferred unless the project sets them.

Inference looks at every non-empty value of a column and picks the narrowest type that holds
them all: NUMBER(38,0), FLOAT, BOOLEAN, DATE, TIMESTAMP_NTZ, else VARCHAR. A number written with
a leading zero stays text (a code such as "007" would lose its zeros). Empty cells are NULL.
The table is created with CREATE OR REPLACE ... AS SELECT from VALUES, so a seed that fits one
statement replaces the old table in one step; the values travel as bound parameters.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from dbt_like_sql.engine.adapter import SnowflakeAdapter
from dbt_like_sql.engine.errors import ModelExecutionError, SeedError, WarehouseError
from dbt_like_sql.engine.nodes import Seed
from dbt_like_sql.engine.quoting import comment_literal, normalize_identifier, quote_identifier
from dbt_like_sql.engine.results import BuildResult

__all__ = ["SeedTable", "load_seed", "read_seed"]

ROWS_PER_STATEMENT = 250  # the VALUES of one statement; Snowflake caps a VALUES list at 16,384 rows

_INTEGER = re.compile(r"[-+]?(0|[1-9]\d{0,37})")
_FLOAT = re.compile(r"[-+]?(0|[1-9]\d*)?(\.\d+)?([eE][-+]?\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?")


def _is_float(value: str) -> bool:
    return bool(_FLOAT.fullmatch(value)) and any(ch.isdigit() for ch in value.split("e")[0].split("E")[0])


def _is_date(value: str) -> bool:
    return bool(_DATE.fullmatch(value)) and _parses(date.fromisoformat, value)


def _is_timestamp(value: str) -> bool:
    return bool(_TIMESTAMP.fullmatch(value)) and _parses(datetime.fromisoformat, value)


def _parses(parse: Callable[[str], object], value: str) -> bool:
    try:
        parse(value)
    except ValueError:
        return False
    return True


_INFERENCE: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("NUMBER(38,0)", lambda v: bool(_INTEGER.fullmatch(v))),
    ("FLOAT", _is_float),
    ("BOOLEAN", lambda v: v.lower() in ("true", "false")),
    ("DATE", _is_date),
    ("TIMESTAMP_NTZ", _is_timestamp),
)


@dataclass(frozen=True)
class SeedTable:
    columns: tuple[str, ...]  # upper-case names
    types: tuple[str, ...]
    rows: tuple[tuple[str | None, ...], ...]


def read_seed(seed: Seed) -> SeedTable:
    """The CSV's header, inferred (or configured) types and rows; a malformed file is a SeedError."""
    try:
        with seed.path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header:
                raise SeedError("the CSV has no header row", seed.relative_path, 1)
            columns = tuple(normalize_identifier(h.strip(), "column", seed.relative_path, 1) for h in header)
            rows = []
            for row in reader:
                if len(row) != len(columns):
                    raise SeedError(
                        f"{len(row)} values where the header has {len(columns)} columns",
                        seed.relative_path,
                        reader.line_num,
                    )
                rows.append(tuple(value if value.strip() != "" else None for value in row))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SeedError(f"cannot read the CSV: {exc}", seed.relative_path) from exc
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise SeedError(f"column(s) {', '.join(duplicated)} appear twice in the header", seed.relative_path, 1)
    unknown = sorted(set(seed.column_types) - set(columns))
    if unknown:
        raise SeedError(f"column_types names column(s) {', '.join(unknown)} that the CSV lacks", seed.relative_path, 1)
    types = tuple(seed.column_types.get(column) or _infer([row[i] for row in rows]) for i, column in enumerate(columns))
    return SeedTable(columns, types, tuple(rows))


def load_seed(adapter: SnowflakeAdapter, seed: Seed) -> BuildResult:
    """Replace the seed's table with the CSV's rows; a refused statement names the CSV file."""
    started = time.monotonic()
    table = read_seed(seed)
    statements = _statements(seed, table)
    try:
        adapter.use_schema(seed.relation.schema)
        if adapter.relation_kind(seed.relation) == "view":
            adapter.drop(seed.relation, "view")
        for sql, params in statements:
            adapter.execute_dml(sql, params)
        descriptions = {d.name.upper(): d.description for d in seed.columns if d.description}
        adapter.comment_columns(seed.relation, {c: t for c, t in descriptions.items() if c in table.columns})
        grants = adapter.apply_grants(seed.relation, "table", seed.grants)
        database = adapter.database()
    except WarehouseError as exc:
        raise ModelExecutionError(
            f"Snowflake refused to load seed {seed.relation.display}: {exc}", seed.relative_path
        ) from exc
    documented = {d.name.upper() for d in seed.columns}
    return BuildResult(
        node=seed.name,
        relation=seed.relation,
        database=database,
        materialized="seed",
        action="loaded seed",
        columns=tuple(zip(table.columns, table.types, strict=True)),
        sql=statements[0][0],
        seconds=time.monotonic() - started,
        row_count=len(table.rows),
        rows_inserted=len(table.rows),
        undocumented=tuple(c for c in table.columns if c not in documented),
        grants=grants.statements,
        grants_applied=grants.applied,
    )


def _infer(values: Sequence[str | None]) -> str:
    present = [v.strip() for v in values if v is not None]
    if not present:
        return "VARCHAR"
    return next((sql_type for sql_type, fits in _INFERENCE if all(fits(v) for v in present)), "VARCHAR")


def _statements(seed: Seed, table: SeedTable) -> list[tuple[str, list[str | None] | None]]:
    """CREATE OR REPLACE ... AS SELECT for the first chunk of rows, INSERT for each further chunk."""
    comment = comment_literal(seed.description)
    names = [quote_identifier(c) for c in table.columns]
    if not table.rows:
        typed = ", ".join(f"{n} {t}" for n, t in zip(names, table.types, strict=True))
        return [(f"CREATE OR REPLACE TABLE {seed.relation} ({typed}) COMMENT = {comment}", None)]
    casts = ", ".join(f"CAST({n} AS {t}) AS {n}" for n, t in zip(names, table.types, strict=True))
    placeholders = "(" + ", ".join(["%s"] * len(names)) + ")"
    statements = []
    for start in range(0, len(table.rows), ROWS_PER_STATEMENT):
        chunk = table.rows[start : start + ROWS_PER_STATEMENT]
        values = ", ".join([placeholders] * len(chunk))
        select = f"SELECT {casts} FROM (VALUES {values}) AS v ({', '.join(names)})"
        params = [value for row in chunk for value in row]
        if start == 0:
            statements.append((f"CREATE OR REPLACE TABLE {seed.relation} COMMENT = {comment} AS {select}", params))
        else:
            statements.append((f"INSERT INTO {seed.relation} ({', '.join(names)}) {select}", params))
    return statements
