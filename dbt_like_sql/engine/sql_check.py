"""Cross-check a rendered model with sqlglot: one Snowflake SELECT that reads only what it declares.

The graph is built from ref() and source(); a table named directly in the SQL would be read
without being a dependency, so Dagster and the runner could build it in the wrong order. Every
table the parsed query reads (CTE names excepted, as SQLMesh's `find_tables` does) must be one
that a ref(), source() or `this` rendered. Errors point at the line of the model file.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.scope import traverse_scope

from dbt_like_sql.engine.errors import SqlSyntaxError, UndeclaredTableError
from dbt_like_sql.engine.line_map import source_line
from dbt_like_sql.engine.quoting import Relation

__all__ = ["DIALECT", "check_model_sql"]

DIALECT = "snowflake"


def check_model_sql(
    sql: str,
    declared: Collection[Relation],
    path: str,
    source_text: str,
    suggestions: Mapping[tuple[str, str], str],
) -> None:
    """Raise SqlSyntaxError or UndeclaredTableError (with the file's line) unless `sql` is sound.

    `suggestions` maps (SCHEMA, NAME) of the project's relations to the Jinja that declares them.
    """
    query = _parse(sql, path, source_text)
    allowed = {(r.schema, r.name): r.database for r in declared}
    for table in _tables(query):
        parts = [_normalized(part) for part in (table.args.get("catalog"), table.args.get("db"), table.this)]
        catalog, schema, name = parts
        if schema is not None and name is not None and (schema, name) in allowed:
            database = allowed[(schema, name)]
            if catalog is None or database is None or catalog == database:
                continue
        shown = ".".join(p for p in parts if p)
        hint = suggestions.get((schema or "", name or ""))
        advice = f"; use {hint}" if hint else "; declare it as a source in a schema.yml and use source()"
        line = table.this.meta.get("line") if isinstance(table.this, exp.Identifier) else None
        raise UndeclaredTableError(
            f"reads {shown}, which no ref() or source() declares{advice}",
            path,
            source_line(source_text, sql, line) if line else None,
        )


def parse_select(sql: str, path: str) -> exp.Query:
    """`sql` as one SELECT (or WITH ... SELECT) statement; anything else is a SqlSyntaxError naming `path`."""
    return _parse(sql, path, sql, "a query")


def _parse(sql: str, path: str, source_text: str, what: str = "a model") -> exp.Query:
    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except sqlglot.ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        line = first.get("line")
        description = first.get("description") or str(exc)
        near = (first.get("highlight") or "").strip()
        detail = f"SQL syntax error: {description}" + (f" near {near!r}" if near else "")
        raise SqlSyntaxError(detail, path, source_line(source_text, sql, line) if line else None) from exc
    except sqlglot.errors.TokenError as exc:
        raise SqlSyntaxError(f"SQL syntax error: {exc}", path) from exc
    if not statements:
        raise SqlSyntaxError(
            f"{what} with no SQL statement" if what != "a model" else "the model renders to no SQL statement", path
        )
    if len(statements) > 1 or not isinstance(statements[0], exp.Query):
        raise SqlSyntaxError(f"{what} must be exactly one SELECT (or WITH ... SELECT) statement", path)
    return statements[0]


def _tables(query: exp.Query) -> list[exp.Table]:
    """The tables a query reads, without CTE names and table functions."""
    try:
        found = [
            table
            for scope in traverse_scope(query)
            for table in scope.tables
            if isinstance(table.this, exp.Identifier) and not (table.name in scope.cte_sources and not table.db)
        ]
    except OptimizeError:
        ctes = {cte.alias_or_name for cte in query.find_all(exp.CTE)}
        found = [
            table
            for table in query.find_all(exp.Table)
            if isinstance(table.this, exp.Identifier) and not (table.name in ctes and not table.db)
        ]
    return found


def _normalized(part: exp.Expression | None) -> str | None:
    """Snowflake's rule: an unquoted identifier means its upper-case name, a quoted one is exact."""
    if not isinstance(part, exp.Identifier):
        return None
    return part.name if part.quoted else part.name.upper()
