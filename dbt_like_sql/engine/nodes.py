"""What a loaded project is made of: models, seeds, sources and data tests.

These are plain, immutable records. Loading (`loader`) fills them from the files; running
(`runner`) and the Dagster layer only read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbt_like_sql.engine.quoting import Relation

__all__ = [
    "MATERIALIZATIONS",
    "SEVERITIES",
    "Call",
    "ColumnDoc",
    "DataTest",
    "Hook",
    "Model",
    "ModelConfig",
    "Seed",
    "SourceTable",
]

MATERIALIZATIONS = ("view", "table", "incremental", "ephemeral")
SEVERITIES = ("error", "warn")


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    description: str


@dataclass(frozen=True)
class Call:
    """One ref() or source() call in a model: what it names and on which line of the file."""

    target: str
    line: int | None


@dataclass(frozen=True)
class Hook:
    """A statement run before or after a model's build, compiled with `this` when the project loads."""

    sql: str
    path: str
    line: int | None


@dataclass(frozen=True)
class ModelConfig:
    materialized: str
    schema: str
    unique_key: tuple[str, ...] = ()
    pre_hook: tuple[Hook, ...] = ()
    post_hook: tuple[Hook, ...] = ()
    grants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # privilege -> roles


@dataclass(frozen=True)
class Model:
    name: str
    path: Path
    relative_path: str
    raw_sql: str
    config: ModelConfig
    relation: Relation
    description: str
    columns: tuple[ColumnDoc, ...]
    refs: tuple[Call, ...]
    sources: tuple[Call, ...]  # target: "source_name.table_name"
    compiled_sql: str  # rendered as a first build renders it (is_incremental() false), ephemerals inlined
    ctes: tuple[tuple[str, str], ...] = ()  # the ephemeral models it inlines: (CTE name, their SQL)

    @property
    def ephemeral(self) -> bool:
        return self.config.materialized == "ephemeral"


@dataclass(frozen=True)
class Seed:
    name: str
    path: Path
    relative_path: str
    relation: Relation
    description: str
    columns: tuple[ColumnDoc, ...]
    column_types: Mapping[str, str]  # upper-case column name -> Snowflake type, from the project file
    grants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceTable:
    source_name: str
    name: str
    relation: Relation
    description: str
    columns: tuple[ColumnDoc, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DataTest:
    """A data test of a model or seed: a generic test declared in a schema.yml file, or a singular one.

    `node` is the model or seed the test belongs to (a singular test: the last built of those
    it reads), `reads` the other nodes its SQL reads, so it runs once they are all built.
    """

    name: str
    test_type: str  # unique | not_null | accepted_values | relationships | a {% test %} macro | singular
    node: str
    column: str | None  # None: a test of the whole model, or a singular test
    severity: str
    path: str
    line: int | None
    values: tuple[Any, ...] = ()  # accepted_values
    quote_values: bool = True
    to: Relation | None = None  # relationships: the parent relation and its field
    to_node: str | None = None  # the parent's model or seed name (None for a source)
    field: str | None = None
    sql: str | None = None  # compiled when the project loads: custom generic tests and singular tests
    reads: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    @property
    def subject(self) -> str:
        """What the test looks at, for messages: `model.column` or the model."""
        return f"{self.node}.{self.column.lower()}" if self.column else self.node

    @property
    def depends_on(self) -> tuple[str, ...]:
        others = [self.to_node] if self.to_node else []
        return tuple(dict.fromkeys([self.node, *others, *self.reads]))
