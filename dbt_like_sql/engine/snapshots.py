"""Snapshots: the history of a query's rows, one version per change, as dbt's snapshots keep it.

A `{% snapshot name %}` block selects the current state of something that is overwritten at its
source (instrument reference data, say). Each run compares it with the versions already kept,
by `unique_key`:

- strategy `timestamp`: a row changed when its `updated_at` is newer than the kept version's;
- strategy `check`: a row changed when any of `check_cols` (or every column, for `all`) differs.

A changed row's current version is closed (`dbt_valid_to`) and a new one opened
(`dbt_valid_from`); a new key opens its first version. The time stamped on versions is the row's
`updated_at` when it is configured (for `check` too, as in dbt), else the time of the run. With
`invalidate_hard_deletes`, a key gone from the query has its version closed at the newest
`updated_at` the query holds (dbt uses the clock; a snapshot of business dates needs the date).
The first run creates the table; later runs close and insert in one transaction.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbt_like_sql.engine.adapter import SnowflakeAdapter
from dbt_like_sql.engine.errors import ModelExecutionError, ProjectConfigError, WarehouseError
from dbt_like_sql.engine.nodes import Call, ColumnDoc
from dbt_like_sql.engine.quoting import Relation, normalize_identifier, quote_identifier, string_literal
from dbt_like_sql.engine.results import BuildResult

__all__ = ["META_COLUMNS", "STRATEGIES", "Snapshot", "SnapshotConfig", "run_snapshot", "snapshot_config"]

STRATEGIES = ("timestamp", "check")
META_COLUMNS = ("DBT_SCD_ID", "DBT_UPDATED_AT", "DBT_VALID_FROM", "DBT_VALID_TO")


@dataclass(frozen=True)
class SnapshotConfig:
    strategy: str
    unique_key: tuple[str, ...]
    updated_at: str | None = None
    check_cols: tuple[str, ...] | None = None  # None: every column (`all`)
    invalidate_hard_deletes: bool = False
    grants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Snapshot:
    name: str
    path: Path
    relative_path: str
    raw_sql: str
    config: SnapshotConfig
    relation: Relation
    description: str
    columns: tuple[ColumnDoc, ...]
    refs: tuple[Call, ...]
    sources: tuple[Call, ...]
    compiled_sql: str


def snapshot_config(config: Mapping[str, Any], path: str, lines: Mapping[str, int | None]) -> SnapshotConfig:
    """The strategy configs of a snapshot, checked: what is missing or contradictory names its line."""
    strategy = config.get("strategy")
    if strategy not in STRATEGIES:
        raise ProjectConfigError(
            f"a snapshot needs strategy= one of {', '.join(STRATEGIES)}, not {strategy!r}", path, lines.get("strategy")
        )
    keys = config.get("unique_key")
    keys = [keys] if isinstance(keys, str) else keys
    if not keys or not isinstance(keys, list | tuple):
        raise ProjectConfigError(
            "a snapshot needs unique_key= (a column or a list of them)", path, lines.get("unique_key")
        )
    updated_at = config.get("updated_at")
    if strategy == "timestamp" and not updated_at:
        raise ProjectConfigError(
            "strategy 'timestamp' needs updated_at= (the column that says when a row changed)",
            path,
            lines.get("strategy"),
        )
    check_cols = config.get("check_cols")
    if strategy == "check":
        if check_cols is None:
            raise ProjectConfigError(
                "strategy 'check' needs check_cols= (a list of columns, or 'all')", path, lines.get("strategy")
            )
        if check_cols != "all" and not (isinstance(check_cols, list | tuple) and check_cols):
            raise ProjectConfigError("check_cols must be a list of columns or 'all'", path, lines.get("check_cols"))
    hard_deletes = config.get("invalidate_hard_deletes", False)
    if not isinstance(hard_deletes, bool):
        raise ProjectConfigError(
            "invalidate_hard_deletes must be true or false", path, lines.get("invalidate_hard_deletes")
        )
    return SnapshotConfig(
        strategy=strategy,
        unique_key=tuple(normalize_identifier(k, "unique_key column", path, lines.get("unique_key")) for k in keys),
        updated_at=normalize_identifier(updated_at, "updated_at column", path, lines.get("updated_at"))
        if updated_at
        else None,
        check_cols=tuple(
            normalize_identifier(c, "check_cols column", path, lines.get("check_cols")) for c in check_cols
        )
        if strategy == "check" and check_cols != "all"
        else None,
        invalidate_hard_deletes=hard_deletes,
    )


def run_snapshot(adapter: SnowflakeAdapter, snapshot: Snapshot) -> BuildResult:
    """Record the query's changes since the last run; a refused statement names the snapshot file."""
    started = time.monotonic()
    sql = snapshot.compiled_sql
    try:
        adapter.use_schema(snapshot.relation.schema)
        source = adapter.query_columns(sql)
        _check_columns(snapshot, [c.upper() for c in source])
        (now,) = adapter.execute("SELECT CAST(CURRENT_TIMESTAMP() AS TIMESTAMP_NTZ)")[1][0]
        stamp = _stamp(snapshot.config, f"CAST({string_literal(str(now))} AS TIMESTAMP_NTZ)")
        if adapter.relation_kind(snapshot.relation) is None:
            action, counts = _create(adapter, snapshot, sql, stamp), (None, None)
        else:
            kept = [name for name, _ in adapter.columns(snapshot.relation)]
            missing = [c for c in source if c.upper() not in kept]
            if missing:
                raise ProjectConfigError(
                    f"the query now has column(s) {', '.join(missing)} that {snapshot.relation.display} lacks: "
                    "add them to the table (ALTER TABLE ... ADD COLUMN) or snapshot into a new table",
                    snapshot.relative_path,
                )
            action, counts = "snapshot", _update(adapter, snapshot, sql, source, stamp, now)
        grants = adapter.apply_grants(snapshot.relation, "table", snapshot.config.grants)
        columns = adapter.columns(snapshot.relation)
        row_count = adapter.row_count(snapshot.relation)
        database = adapter.database()
    except WarehouseError as exc:
        raise ModelExecutionError(
            f"Snowflake refused to snapshot {snapshot.relation.display}: {exc}", snapshot.relative_path
        ) from exc
    documented = {d.name.upper() for d in snapshot.columns} | set(META_COLUMNS)
    return BuildResult(
        node=snapshot.name,
        relation=snapshot.relation,
        database=database,
        materialized="snapshot",
        action="created snapshot" if counts == (None, None) else action,
        columns=tuple(columns),
        sql=sql,
        seconds=time.monotonic() - started,
        row_count=row_count,
        rows_inserted=counts[0] if counts[0] is not None else row_count,
        rows_updated=counts[1],
        undocumented=tuple(c for c, _ in columns if c not in documented),
        grants=grants.statements,
        grants_applied=grants.applied,
    )


def _check_columns(snapshot: Snapshot, source: Sequence[str]) -> None:
    config = snapshot.config
    named = [*config.unique_key, *(config.check_cols or ()), *([config.updated_at] if config.updated_at else [])]
    absent = [c for c in named if c not in source]
    if absent:
        raise ProjectConfigError(
            f"the snapshot's query has no column(s) {', '.join(absent)}; it has {', '.join(source)}",
            snapshot.relative_path,
        )
    clash = [c for c in source if c in META_COLUMNS]
    if clash:
        raise ProjectConfigError(
            f"the query may not have the snapshot's own column(s) {', '.join(clash)}", snapshot.relative_path
        )


def _stamp(config: SnapshotConfig, now: str) -> str:
    """The SQL for a row's version time, over the alias `s`."""
    if config.updated_at:
        return f"CAST(s.{quote_identifier(config.updated_at)} AS TIMESTAMP_NTZ)"
    return now


def _scd_id(config: SnapshotConfig, stamp: str) -> str:
    parts = [f"COALESCE(CAST(s.{quote_identifier(k)} AS VARCHAR), '')" for k in config.unique_key]
    return "MD5(" + " || '|' || ".join([*parts, f"COALESCE(CAST({stamp} AS VARCHAR), '')"]) + ")"


def _create(adapter: SnowflakeAdapter, snapshot: Snapshot, sql: str, stamp: str) -> str:
    adapter.execute(
        f"CREATE TABLE {snapshot.relation} AS\nSELECT s.*, {_scd_id(snapshot.config, stamp)} AS DBT_SCD_ID, "
        f"{stamp} AS DBT_UPDATED_AT, {stamp} AS DBT_VALID_FROM, CAST(NULL AS TIMESTAMP_NTZ) AS DBT_VALID_TO\n"
        f"FROM (\n{sql}\n) AS s"
    )
    return "created snapshot"


def _update(
    adapter: SnowflakeAdapter, snapshot: Snapshot, sql: str, source: Sequence[str], stamp: str, now: Any
) -> tuple[int | None, int | None]:
    """Close the changed and (if configured) the deleted versions, then open new ones; (opened, closed)."""
    config, table = snapshot.config, snapshot.relation
    same_key = " AND ".join(f"cur.{quote_identifier(k)} = s.{quote_identifier(k)}" for k in config.unique_key)
    if config.strategy == "timestamp":
        changed = f"{stamp} > cur.DBT_UPDATED_AT"
    else:
        compared = config.check_cols or tuple(c.upper() for c in source if c.upper() not in config.unique_key)
        changed = (
            "("
            + " OR ".join(f"cur.{quote_identifier(c)} IS DISTINCT FROM s.{quote_identifier(c)}" for c in compared)
            + ")"
        )
    columns = ", ".join(quote_identifier(c.upper()) for c in source)
    values = ", ".join(f"s.{quote_identifier(c.upper())}" for c in source)
    with adapter.transaction():
        closed = adapter.execute_dml(
            f"UPDATE {table} AS cur SET DBT_VALID_TO = {stamp}\nFROM (\n{sql}\n) AS s\n"
            f"WHERE {same_key} AND cur.DBT_VALID_TO IS NULL AND {changed}"
        )
        if config.invalidate_hard_deletes:
            deleted_at = f"(SELECT MAX({stamp}) FROM (\n{sql}\n) AS s)" if config.updated_at else stamp
            gone = adapter.execute_dml(
                f"UPDATE {table} AS cur SET DBT_VALID_TO = COALESCE({deleted_at}, DBT_VALID_FROM)\n"
                f"WHERE cur.DBT_VALID_TO IS NULL AND NOT EXISTS (SELECT 1 FROM (\n{sql}\n) AS s WHERE {same_key})"
            )
            closed = (closed or 0) + (gone or 0)
        opened = adapter.execute_dml(
            f"INSERT INTO {table} ({columns}, DBT_SCD_ID, DBT_UPDATED_AT, DBT_VALID_FROM, DBT_VALID_TO)\n"
            f"SELECT {values}, {_scd_id(config, stamp)}, {stamp}, {stamp}, CAST(NULL AS TIMESTAMP_NTZ)\n"
            f"FROM (\n{sql}\n) AS s\n"
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS cur WHERE {same_key} AND cur.DBT_VALID_TO IS NULL)"
        )
    return opened, closed
