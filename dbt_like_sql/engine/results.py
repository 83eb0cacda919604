"""What building a node or running a test produced, for the CLI to print and Dagster to record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dbt_like_sql.engine.nodes import DataTest
from dbt_like_sql.engine.quoting import Relation

__all__ = ["BuildResult", "DataTestResult"]

SAMPLE_ROWS = 5


@dataclass(frozen=True)
class BuildResult:
    node: str
    relation: Relation
    database: str
    materialized: str  # view | table | incremental | seed
    action: str  # what happened, in words: "created view", "merged", ...
    columns: tuple[tuple[str, str], ...]  # (name, data type)
    sql: str
    seconds: float
    row_count: int | None = None
    rows_inserted: int | None = None
    rows_updated: int | None = None
    undocumented: tuple[str, ...] = ()  # columns the relation has and schema.yml does not describe
    hooks: tuple[str, ...] = ()  # the pre- and post-hook statements run, in order
    grants: tuple[str, ...] = ()  # the GRANT/REVOKE statements the grants config needed
    grants_applied: bool = True  # False: the warehouse has no access control, so they were only compiled

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.relation.display}"


@dataclass(frozen=True)
class DataTestResult:
    test: DataTest
    sql: str
    seconds: float
    failures: int = 0
    sample_columns: tuple[str, ...] = ()
    sample_rows: tuple[tuple[Any, ...], ...] = ()
    error: str | None = None

    @property
    def status(self) -> str:
        """pass, fail (error severity), warn (warn severity) or error (the query itself failed)."""
        if self.error is not None:
            return "error"
        if self.failures == 0:
            return "pass"
        return "warn" if self.test.severity == "warn" else "fail"

    @property
    def message(self) -> str:
        test = self.test
        subject = f"test {test.name} on {test.subject}"
        if self.error is not None:
            return f"{test.location}: {subject} could not run: {self.error}"
        if self.failures == 0:
            return f"{test.location}: {subject} passed"
        return f"{test.location}: {subject} failed: {self.failures} failing row(s); sample:\n{self.sample_table()}"

    def sample_table(self) -> str:
        """The sample of failing rows as a Markdown table (the Dagster UI renders it, a terminal reads it)."""
        header = "| " + " | ".join(self.sample_columns) + " |"
        rule = "|" + "---|" * len(self.sample_columns)
        rows = ["| " + " | ".join("NULL" if v is None else str(v) for v in row) + " |" for row in self.sample_rows]
        return "\n".join([header, rule, *rows])
