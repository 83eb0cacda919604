"""Named errors of the SQL project, each pointing at the file and line a user has to open.

Every message starts with `path:line:` (project-relative path) when the location is known, the
way a compiler reports, so an error shown in the Dagster UI or on a terminal says where to look.
"""

from __future__ import annotations

__all__ = [
    "CycleError",
    "ModelExecutionError",
    "ProjectConfigError",
    "SchemaFileError",
    "SeedError",
    "SelectionError",
    "SqlProjectError",
    "SqlSyntaxError",
    "TemplateError",
    "UndeclaredTableError",
    "UnknownRefError",
    "UnknownSourceError",
    "WarehouseError",
]


class SqlProjectError(Exception):
    """Base of every error the engine raises about the project or its run."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.detail = message
        location = f"{path}:{line}" if path and line else path
        super().__init__(f"{location}: {message}" if location else message)


class ProjectConfigError(SqlProjectError):
    """dbt_project.yml, a config() call or a name is invalid."""


class SchemaFileError(SqlProjectError):
    """A schema.yml file declares something invalid (a source, a model's docs, a test)."""


class TemplateError(SqlProjectError):
    """Jinja could not parse or render a model."""


class UnknownRefError(SqlProjectError):
    """ref() names no model or seed of the project."""


class UnknownSourceError(SqlProjectError):
    """source() names no table that a schema.yml file declares."""


class CycleError(SqlProjectError):
    """Models read each other in a circle, so no order can build them."""


class SqlSyntaxError(SqlProjectError):
    """The rendered SQL does not parse as one Snowflake SELECT statement."""


class UndeclaredTableError(SqlProjectError):
    """The SQL reads a table that no ref() or source() declares, which would hide a dependency."""


class SeedError(SqlProjectError):
    """A seed CSV cannot be read or typed."""


class SelectionError(SqlProjectError):
    """A --select expression names nothing in the project or uses unsupported syntax."""


class ModelExecutionError(SqlProjectError):
    """Snowflake rejected a statement while building a model or a seed."""


class WarehouseError(Exception):
    """The warehouse refused a statement; the engine adds the file it was building."""

    def __init__(self, message: str, sql: str) -> None:
        self.sql = sql
        super().__init__(message)
