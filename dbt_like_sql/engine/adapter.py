"""The warehouse as the engine sees it: one adapter over a DB-API connection, dialect Snowflake.

Written against the Snowflake connector's connection (what the platform's Snowflake resource's
`get_connection()` yields; `pyformat` parameters), and only with statements
that both Snowflake and the local stack (fakesnow) accept: SHOW OBJECTS to learn what exists,
information_schema for columns, `USE SCHEMA` before statements that need a current schema.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dbt_like_sql.engine.errors import WarehouseError
from dbt_like_sql.engine.quoting import Relation, comment_literal, quote_identifier

__all__ = ["Grants", "QueryResult", "SnowflakeAdapter", "reported_count"]

QueryResult = tuple[list[str], list[tuple[Any, ...]]]

_KINDS = {"TABLE": "table", "VIEW": "view"}


@dataclass(frozen=True)
class Grants:
    """The GRANT and REVOKE statements a build's grants config needed, and whether the warehouse ran them."""

    statements: tuple[str, ...]
    applied: bool


class SnowflakeAdapter:
    dialect = "snowflake"

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._database: str | None = None

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> QueryResult:
        """Run one statement; return its column names and rows. The driver's error becomes WarehouseError."""
        cursor = self._connection.cursor()
        try:
            self._run(cursor, sql, params)
            columns = [d[0] for d in cursor.description or []]
            return columns, [tuple(row) for row in cursor.fetchall()] if columns else []
        finally:
            cursor.close()

    def execute_dml(self, sql: str, params: Sequence[Any] | None = None) -> int | None:
        """Run an INSERT or UPDATE and return the driver's row count without fetching the result.

        The local stack answers with one summary row while announcing as many rows as were
        inserted or updated, which the connector refuses to fetch; the DB-API row count is the same number.
        """
        cursor = self._connection.cursor()
        try:
            self._run(cursor, sql, params)
            return cursor.rowcount if cursor.rowcount is not None and cursor.rowcount >= 0 else None
        finally:
            cursor.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Statements inside commit together or not at all (the connector's autocommit off, then commit)."""
        self._connection.autocommit(False)
        try:
            yield
            self._connection.commit()
        except BaseException:
            self._connection.rollback()
            raise
        finally:
            self._connection.autocommit(True)

    @staticmethod
    def _run(cursor: Any, sql: str, params: Sequence[Any] | None) -> None:
        try:
            if params is None:
                cursor.execute(sql)
            else:
                cursor.execute(sql, params)
        except Exception as exc:  # the DB-API driver's own error classes
            raise WarehouseError(str(exc).strip(), sql) from exc

    def database(self) -> str:
        if self._database is None:
            _, rows = self.execute("SELECT CURRENT_DATABASE()")
            self._database = str(rows[0][0])
        return self._database

    def use_schema(self, schema: str) -> None:
        """Create the schema if needed and make it current (MERGE on the local stack needs one)."""
        self.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(schema)}")
        self.execute(f"USE SCHEMA {quote_identifier(schema)}")

    def relation_kind(self, relation: Relation) -> str | None:
        """'table', 'view' or None when nothing of that name exists."""
        pattern = relation.name.replace("\\", "\\\\").replace("'", "''")
        columns, rows = self.execute(f"SHOW OBJECTS LIKE '{pattern}' IN SCHEMA {quote_identifier(relation.schema)}")
        name_at, kind_at = columns.index("name"), columns.index("kind")
        for row in rows:
            if row[name_at] == relation.name:
                kind = str(row[kind_at]).upper()
                if kind not in _KINDS:
                    raise WarehouseError(f"{relation.display} exists as a {kind}, which the engine never replaces", "")
                return _KINDS[kind]
        return None

    def drop(self, relation: Relation, kind: str) -> None:
        self.execute(f"DROP {kind.upper()} IF EXISTS {relation}")

    def columns(self, relation: Relation) -> list[tuple[str, str]]:
        """(name, data type) of each column, in order."""
        _, rows = self.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (relation.schema, relation.name),
        )
        return [(str(name), str(data_type)) for name, data_type in rows]

    def query_columns(self, sql: str) -> list[str]:
        """The output column names of a query, without reading its rows."""
        columns, _ = self.execute(f"SELECT * FROM (\n{sql}\n) LIMIT 0")
        return columns

    def row_count(self, relation: Relation) -> int:
        _, rows = self.execute(f"SELECT COUNT(*) FROM {relation}")
        return int(rows[0][0])

    def comment_table(self, relation: Relation, description: str) -> None:
        self.execute(f"ALTER TABLE {relation} SET COMMENT = {comment_literal(description)}")

    def comment_columns(self, relation: Relation, descriptions: dict[str, str]) -> None:
        """One ALTER per column: the local stack does not take several columns in one statement."""
        for column, text in descriptions.items():
            self.execute(
                f"ALTER TABLE {relation} ALTER COLUMN {quote_identifier(column)} COMMENT {comment_literal(text)}"
            )

    def apply_grants(self, relation: Relation, kind: str, grants: Mapping[str, Sequence[str]]) -> Grants:
        """Make the object's grants to roles match `grants` (privilege -> roles), as dbt's grants config does.

        What SHOW GRANTS lists is compared with what is wanted: missing grants are granted, and a
        role holding a configured privilege it is no longer given is revoked. A warehouse without
        access control (the local stack has none: it does not parse SHOW GRANTS) runs nothing; the
        statements are still returned, as they would run on Snowflake.
        """
        wanted = {(privilege.upper(), role.upper()) for privilege, roles in grants.items() for role in roles}
        if not wanted:
            return Grants((), applied=True)
        object_type = "VIEW" if kind == "view" else "TABLE"
        try:
            columns, rows = self.execute(f"SHOW GRANTS ON {object_type} {relation}")
        except WarehouseError as exc:
            if "syntax error" not in str(exc).lower():
                raise
            return Grants(_grant_statements(object_type, relation, sorted(wanted), []), applied=False)
        at = {name.lower(): index for index, name in enumerate(columns)}
        held = {
            (str(row[at["privilege"]]).upper(), str(row[at["grantee_name"]]).upper())
            for row in rows
            if str(row[at["granted_to"]]).upper() == "ROLE"
        }
        configured = {privilege for privilege, _ in wanted}
        revoke = sorted((p, r) for p, r in held - wanted if p in configured)
        statements = _grant_statements(object_type, relation, sorted(wanted - held), revoke)
        for statement in statements:
            self.execute(statement)
        return Grants(statements, applied=True)


def reported_count(names: list[str], rows: list[tuple[Any, ...]], word: str) -> int | None:
    """The 'number of rows inserted/updated' column of a DML result, when the warehouse reports it.

    The local stack reports NULL rather than 0 when nothing matched.
    """
    for index, name in enumerate(names):
        if word in name.lower() and rows:
            return int(rows[0][index] or 0)
    return None


def _grant_statements(
    object_type: str, relation: Relation, grant: Sequence[tuple[str, str]], revoke: Sequence[tuple[str, str]]
) -> tuple[str, ...]:
    granted = [f"GRANT {p} ON {object_type} {relation} TO ROLE {quote_identifier(r)}" for p, r in grant]
    revoked = [f"REVOKE {p} ON {object_type} {relation} FROM ROLE {quote_identifier(r)}" for p, r in revoke]
    return tuple(granted + revoked)
