"""Ephemeral models: never built, inlined as common table expressions into the models that read them.

As dbt does: `ref('an_ephemeral')` renders as the CTE name `__dbt__cte__an_ephemeral`, and each
model that reads one (directly or through other ephemerals) gets every ephemeral it needs
defined at the front of its WITH clause, the ones read first, so each can use the ones before.
The model's own text is kept as written after them, so a warehouse error still maps back to
the line of the model file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import sqlglot
from sqlglot.tokens import TokenType

from dbt_like_sql.engine.sql_check import DIALECT

__all__ = ["CTE_PREFIX", "cte_name", "ephemeral_order", "with_ctes"]

CTE_PREFIX = "__dbt__cte__"


def cte_name(model: str) -> str:
    return f"{CTE_PREFIX}{model.lower()}"


def ephemeral_order(name: str, refs: Callable[[str], Sequence[str]], ephemeral: Mapping[str, bool]) -> list[str]:
    """The ephemeral models `name` reads, directly or through others, each after those it reads."""
    ordered: list[str] = []

    def visit(node: str) -> None:
        for parent in refs(node):
            if ephemeral.get(parent) and parent not in ordered:
                visit(parent)
                ordered.append(parent)

    visit(name)
    return ordered


def with_ctes(sql: str, ctes: Sequence[tuple[str, str]]) -> str:
    """`sql` with `ctes` ((name, query), ...) defined first: in its WITH clause, or a new one."""
    if not ctes:
        return sql
    definitions = ",\n".join(f"{name} as (\n{query}\n)" for name, query in ctes)
    tokens = sqlglot.tokenize(sql, read=DIALECT)
    if tokens and tokens[0].token_type == TokenType.WITH:
        at = tokens[0].end + 1
        if len(tokens) > 1 and tokens[1].text.upper() == "RECURSIVE":
            at = tokens[1].end + 1
        return f"{sql[:at]} {definitions},{sql[at:]}"
    return f"with {definitions}\n{sql}"
