"""Lake to Snowflake RAW: COPY INTO from an external stage on the lake, one partition at a time.

The same SQL runs on Snowflake and on the local stack. A reload replaces the partition: delete
its rows and copy its files with FORCE (Snowflake would otherwise skip files it loaded before),
in one transaction, so readers see the old rows or the new ones, never neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from snowflake.connector.errors import ProgrammingError

from dbt_like_sql.engine.quoting import string_literal
from platform_defs.datasets import SNOWFLAKE_TYPES, Dataset
from platform_defs.lake import PARTITION_COLUMN

__all__ = ["LAKE_STAGE", "WarehouseLoad", "duplicate_keys", "ensure_stage", "ensure_table", "load_partition"]

LAKE_STAGE = "RAW.LAKE"

_DOES_NOT_EXIST = 2003
"""Snowflake's error number for an object that does not exist (or that the role may not see)."""


@dataclass(frozen=True)
class WarehouseLoad:
    table: str
    partition: str
    files: int
    rows_loaded: int
    rows_in_partition: int


def ensure_stage(cur: Any, bucket: str, storage_integration: str | None) -> None:
    """The external stage on `s3://<bucket>/lake/`, created once (CREATE OR REPLACE would drop grants)."""
    url = f"s3://{bucket}/lake/"
    cur.execute("SHOW STAGES LIKE 'LAKE' IN SCHEMA RAW")
    existing = cur.fetchall()
    if existing:
        found = existing[0][4]
        if found != url:
            raise RuntimeError(f"stage {LAKE_STAGE} points at {found}, not at the lake {url}: drop or alter it")
        return
    integration = f" STORAGE_INTEGRATION = {_identifier(storage_integration)}" if storage_integration else ""
    cur.execute(f"CREATE STAGE {LAKE_STAGE} URL = '{url}'{integration}")


def ensure_table(cur: Any, dataset: Dataset) -> None:
    columns = [f"{c.name.upper()} {SNOWFLAKE_TYPES[c.type]}" for c in dataset.columns]
    columns.append(f"{PARTITION_COLUMN.upper()} VARCHAR")
    comment = string_literal(dataset.description)
    cur.execute(f"CREATE TABLE IF NOT EXISTS {dataset.table} ({', '.join(columns)}) COMMENT = {comment}")


def ensure_tables(conn: Any, datasets: Iterable[Dataset]) -> None:
    """Create the RAW table of each dataset not loaded yet, so SQL that reads it sees an empty table.

    A newly declared dataset then shows in `mart_data_quality` with 0 rows, and the models that
    read it build, instead of failing until its first load.
    """
    with conn.cursor() as cur:
        for dataset in datasets:
            ensure_table(cur, dataset)


def load_partition(conn: Any, dataset: Dataset, partition: str, files: Sequence[str]) -> WarehouseLoad:
    """Replace the partition's rows with the rows of `files` (keys under the lake prefix).

    The table is created (`ensure_table`) when the load finds none, instead of before every load:
    only a dataset's first load needs it, and every other one would pay a round trip for it.
    """
    try:
        return _replace_partition(conn, dataset, partition, files)
    except ProgrammingError as exc:
        if exc.errno != _DOES_NOT_EXIST:
            raise
    with conn.cursor() as cur:
        ensure_table(cur, dataset)
    return _replace_partition(conn, dataset, partition, files)


def _replace_partition(conn: Any, dataset: Dataset, partition: str, files: Sequence[str]) -> WarehouseLoad:
    """Delete and copy in one transaction, through the connector (autocommit off, then commit or rollback).

    Both Snowflake and the local stack honour the connector's transaction.
    """
    relative = [f.removeprefix("lake/") for f in files]
    file_list = ", ".join(string_literal(f) for f in relative)
    conn.autocommit(False)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DELETE FROM {dataset.table} WHERE {PARTITION_COLUMN.upper()} = %s", (partition,))
            loaded = 0
            if relative:
                cur.execute(
                    f"COPY INTO {dataset.table} FROM @{LAKE_STAGE} FILES = ({file_list}) "
                    "FILE_FORMAT = (TYPE = PARQUET) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE FORCE = TRUE"
                )
                loaded = sum(int(row[3] or 0) for row in cur.fetchall())
            cur.execute(f"SELECT COUNT(*) FROM {dataset.table} WHERE {PARTITION_COLUMN.upper()} = %s", (partition,))
            (in_partition,) = cur.fetchone()
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.autocommit(True)
    return WarehouseLoad(dataset.table, partition, len(relative), loaded, int(in_partition))


def duplicate_keys(cur: Any, dataset: Dataset, sample: int = 5) -> tuple[int, list[tuple[Any, ...]]]:
    """How many primary-key values occur more than once in the whole table, and a few of them."""
    key = ", ".join(column.upper() for column in dataset.key)
    cur.execute(
        f"SELECT {key}, COUNT(*) AS COPIES FROM {dataset.table} GROUP BY {key} HAVING COUNT(*) > 1 "
        f"ORDER BY COPIES DESC, {key}"
    )
    rows = cur.fetchall()
    return len(rows), [tuple(row) for row in rows[:sample]]


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"storage integration name {name!r} is not a plain identifier")
    return name
