"""Build one model: view, table (CREATE OR REPLACE ... AS) or incremental (MERGE on unique_key, else INSERT).

Ephemeral models are not built: they are inlined where they are read (`ephemeral`).

As in dbt: an object of the other kind under the model's name is dropped first; an incremental
model is built whole the first time, on a full refresh, or when a view stands in its place,
and otherwise renders with `is_incremental()` true and is merged into the existing table (on
`unique_key`, or appended when there is none). Descriptions go into Snowflake comments: inline
in the CREATE (views take their column comments there too), by ALTER for table columns.
Every statement places the model's SQL from its second line on, so a line in a warehouse error
maps back to the model file.
"""

from __future__ import annotations

import re
import time

from dbt_like_sql.engine.adapter import SnowflakeAdapter, reported_count
from dbt_like_sql.engine.errors import ModelExecutionError, ProjectConfigError, WarehouseError
from dbt_like_sql.engine.line_map import source_line
from dbt_like_sql.engine.nodes import ColumnDoc, Hook, Model
from dbt_like_sql.engine.project import Project
from dbt_like_sql.engine.quoting import comment_literal, quote_identifier
from dbt_like_sql.engine.results import BuildResult

__all__ = ["build_model"]

_SOURCE = "DBT_INTERNAL_SOURCE"
_DEST = "DBT_INTERNAL_DEST"
_ERROR_LINE = re.compile(r"\bline (\d+) at position\b", re.IGNORECASE)


def build_model(adapter: SnowflakeAdapter, project: Project, name: str, full_refresh: bool = False) -> BuildResult:
    """Build `name` in the warehouse; a refused statement is a ModelExecutionError naming the file.

    Pre-hooks run first, then the build, then the grants config is applied and post-hooks run.
    """
    model = project.models[name]
    if model.ephemeral:
        raise ProjectConfigError(
            f"{name!r} is ephemeral: it is inlined where it is read, never built", model.relative_path
        )
    started = time.monotonic()
    sql = model.compiled_sql
    try:
        adapter.use_schema(model.relation.schema)
        hooks = _run_hooks(adapter, model, model.config.pre_hook)
        existing = adapter.relation_kind(model.relation)
        incremental = model.config.materialized == "incremental" and existing == "table" and not full_refresh
        sql = project.compile(name, is_incremental=incremental)
        # A merge keeps the table's columns, so they are read once; a created relation is read after.
        kept = adapter.columns(model.relation) if incremental else None
        if model.config.materialized == "view":
            action, counts = _view(adapter, model, sql, existing), (None, None)
        elif kept is not None:
            action, counts = _merge_or_insert(adapter, model, sql, [column for column, _ in kept])
        else:
            action, counts = _table(adapter, model, sql, existing), (None, None)
        columns = kept if kept is not None else adapter.columns(model.relation)
        if model.config.materialized != "view":
            present = {column for column, _ in columns}
            adapter.comment_columns(model.relation, {d.name.upper(): d.description for d in _described(model, present)})
        row_count = adapter.row_count(model.relation) if model.config.materialized != "view" else None
        kind = "view" if model.config.materialized == "view" else "table"
        grants = adapter.apply_grants(model.relation, kind, model.config.grants)
        hooks += _run_hooks(adapter, model, model.config.post_hook)
        database = adapter.database()
    except WarehouseError as exc:
        raise ModelExecutionError(
            f"Snowflake refused to build {model.relation.display} ({model.config.materialized}): {exc}",
            model.relative_path,
            _model_line(model, sql, exc),
        ) from exc
    documented = {d.name.upper() for d in model.columns}
    present = [column for column, _ in columns]
    return BuildResult(
        node=name,
        relation=model.relation,
        database=database,
        materialized=model.config.materialized,
        action=action,
        columns=tuple(columns),
        sql=sql,
        seconds=time.monotonic() - started,
        row_count=row_count,
        rows_inserted=counts[0],
        rows_updated=counts[1],
        undocumented=tuple(c for c in present if c not in documented),
        hooks=hooks,
        grants=grants.statements,
        grants_applied=grants.applied,
    )


def _run_hooks(adapter: SnowflakeAdapter, model: Model, hooks: tuple[Hook, ...]) -> tuple[str, ...]:
    """Run each hook; one the warehouse refuses names the file and line it was configured at."""
    for hook in hooks:
        try:
            adapter.execute(hook.sql)
        except WarehouseError as exc:
            raise ModelExecutionError(
                f"Snowflake refused a hook of {model.relation.display}: {exc}", hook.path, hook.line
            ) from exc
    return tuple(hook.sql for hook in hooks)


def _column_list(docs: tuple[ColumnDoc, ...], columns: list[str]) -> str:
    """A view's column list: every output column in order, with its comment when it has one."""
    descriptions = {d.name.upper(): d.description for d in docs if d.description}
    parts = [
        quote_identifier(c) + (f" COMMENT {comment_literal(descriptions[c])}" if c in descriptions else "")
        for c in columns
    ]
    return "(" + ", ".join(parts) + ")"


def _view(adapter: SnowflakeAdapter, model: Model, sql: str, existing: str | None) -> str:
    if existing == "table":
        adapter.drop(model.relation, "table")
    column_list = ""
    if any(d.description for d in model.columns):
        column_list = " " + _column_list(model.columns, adapter.query_columns(sql))
    adapter.execute(
        f"CREATE OR REPLACE VIEW {model.relation}{column_list} COMMENT = {comment_literal(model.description)} AS\n{sql}"
    )
    return "created view"


def _table(adapter: SnowflakeAdapter, model: Model, sql: str, existing: str | None) -> str:
    if existing == "view":
        adapter.drop(model.relation, "view")
    comment = comment_literal(model.description)
    adapter.execute(f"CREATE OR REPLACE TABLE {model.relation} COMMENT = {comment} AS\n{sql}")
    return "created table" if model.config.materialized == "table" else "created table (full incremental build)"


def _merge_or_insert(
    adapter: SnowflakeAdapter, model: Model, sql: str, target: list[str]
) -> tuple[str, tuple[int | None, int | None]]:
    """Merge the new rows on unique_key (append without one); the table's own columns decide what is set."""
    columns = ", ".join(quote_identifier(c) for c in target)
    keys = model.config.unique_key
    missing = [key for key in keys if key not in target]
    if missing:
        raise ProjectConfigError(
            f"unique_key {', '.join(missing)} is not a column of {model.relation.display}", model.relative_path
        )
    if keys:
        on = " AND ".join(f"{_DEST}.{quote_identifier(k)} = {_SOURCE}.{quote_identifier(k)}" for k in keys)
        updates = ", ".join(f"{quote_identifier(c)} = {_SOURCE}.{quote_identifier(c)}" for c in target if c not in keys)
        matched = f" WHEN MATCHED THEN UPDATE SET {updates}" if updates else ""
        values = ", ".join(f"{_SOURCE}.{quote_identifier(c)}" for c in target)
        names, rows = adapter.execute(
            f"MERGE INTO {model.relation} AS {_DEST} USING (\n{sql}\n) AS {_SOURCE} ON {on}{matched}"
            f" WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({values})"
        )
        counts = (reported_count(names, rows, "inserted"), reported_count(names, rows, "updated"))
        action = "merged"
    else:
        inserted = adapter.execute_dml(f"INSERT INTO {model.relation} ({columns}) SELECT {columns} FROM (\n{sql}\n)")
        counts, action = (inserted, None), "inserted"
    adapter.comment_table(model.relation, model.description)
    return action, counts


def _described(model: Model, present: set[str]) -> list[ColumnDoc]:
    return [d for d in model.columns if d.description and d.name.upper() in present]


def _model_line(model: Model, sql: str, exc: WarehouseError) -> int | None:
    """The model file's line for a warehouse error that names a line of our statement."""
    found = _ERROR_LINE.search(str(exc))
    if not found or not exc.sql or sql not in exc.sql:
        return None
    line_in_sql = int(found.group(1)) - exc.sql[: exc.sql.index(sql)].count("\n")
    if line_in_sql < 1:
        return None
    return source_line(model.raw_sql, sql, line_in_sql)
