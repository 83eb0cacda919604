"""Data tests, each compiled to a query that returns the failing rows.

A test passes when its query returns nothing; otherwise the count and a few of the rows make
the failure message, so the reader sees which values broke it without writing a query.
"""

from __future__ import annotations

import time

from dbt_like_sql.engine.adapter import SnowflakeAdapter
from dbt_like_sql.engine.errors import WarehouseError
from dbt_like_sql.engine.nodes import DataTest
from dbt_like_sql.engine.project import Project
from dbt_like_sql.engine.quoting import quote_identifier, string_literal
from dbt_like_sql.engine.results import SAMPLE_ROWS, DataTestResult

__all__ = ["compile_test", "run_test"]


def compile_test(project: Project, test: DataTest) -> str:
    """The test's query; dbt's four generic tests are written here, the others compiled from their macro or file."""
    if test.sql is not None:
        return test.sql
    assert test.column is not None, "dbt's generic tests test a column"
    relation = project.node(test.node).relation
    column = quote_identifier(test.column)
    if test.test_type == "not_null":
        return f"SELECT *\nFROM {relation}\nWHERE {column} IS NULL"
    if test.test_type == "unique":
        return (
            f"SELECT {column} AS unique_field, COUNT(*) AS n_records\nFROM {relation}\n"
            f"WHERE {column} IS NOT NULL\nGROUP BY {column}\nHAVING COUNT(*) > 1"
        )
    if test.test_type == "accepted_values":
        values = ", ".join(string_literal(str(v)) if test.quote_values else str(v) for v in test.values)
        return (
            f"SELECT {column} AS value_field, COUNT(*) AS n_records\nFROM {relation}\n"
            f"WHERE {column} NOT IN ({values})\nGROUP BY {column}"
        )
    if test.test_type == "relationships":
        assert test.to is not None and test.field is not None
        field = quote_identifier(test.field)
        return (
            f"SELECT child.{column} AS from_field\nFROM {relation} AS child\n"
            f"LEFT JOIN {test.to} AS parent ON child.{column} = parent.{field}\n"
            f"WHERE child.{column} IS NOT NULL AND parent.{field} IS NULL"
        )
    raise ValueError(f"unknown test type {test.test_type!r}")


def run_test(adapter: SnowflakeAdapter, project: Project, test: DataTest) -> DataTestResult:
    """Count the failing rows and keep a sample; a query the warehouse refuses is an `error` result."""
    started = time.monotonic()
    sql = compile_test(project, test)
    try:
        _, counted = adapter.execute(f"SELECT COUNT(*) FROM (\n{sql}\n) AS dbt_internal_test")
        failures = int(counted[0][0])
        columns: list[str] = []
        rows: list[tuple[object, ...]] = []
        if failures:
            columns, rows = adapter.execute(f"SELECT * FROM (\n{sql}\n) AS dbt_internal_test LIMIT {SAMPLE_ROWS}")
    except WarehouseError as exc:
        return DataTestResult(test=test, sql=sql, seconds=time.monotonic() - started, error=str(exc))
    return DataTestResult(
        test=test,
        sql=sql,
        seconds=time.monotonic() - started,
        failures=failures,
        sample_columns=tuple(columns),
        sample_rows=tuple(rows),
    )
