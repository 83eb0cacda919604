"""dbt's own Jinja blocks: `{% test %}`, `{% snapshot %}` and `{% docs %}`.

Jinja knows `{% macro %}` but not these. A `{% test name(model, column_name) %}` block is a
macro named `test_<name>`, as dbt compiles it, so a generic test is called like any macro. A
`{% snapshot name %}` block renders its body and records the name, so a snapshot file renders
to its SELECT. `{% docs name %}` blocks live in Markdown files and are text, not templates: they
are read with a pattern, keeping the line each starts on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.parser import Parser

from dbt_like_sql.engine.errors import ProjectConfigError

__all__ = ["SNAPSHOT_NAME", "TEST_PREFIX", "DocsBlock", "SnapshotBlocks", "TestBlocks", "read_docs_blocks"]

TEST_PREFIX = "test_"
SNAPSHOT_NAME = "_dbt_snapshot_block"  # the context function a snapshot block calls with its name

_DOCS = re.compile(r"{%-?\s*docs\s+([A-Za-z_][A-Za-z0-9_]*)\s*-?%}(.*?){%-?\s*enddocs\s*-?%}", re.DOTALL)
_DOCS_OPEN = re.compile(r"{%-?\s*docs\b")


class TestBlocks(Extension):
    """`{% test name(args) %} ... {% endtest %}`: the macro `test_name(args)`."""

    tags: ClassVar[set[str]] = {"test"}

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        macro = nodes.Macro(lineno=lineno)
        macro.name = TEST_PREFIX + parser.parse_assign_target(name_only=True).name
        parser.parse_signature(macro)
        macro.body = parser.parse_statements(("name:endtest",), drop_needle=True)
        return macro


class SnapshotBlocks(Extension):
    """`{% snapshot name %} ... {% endsnapshot %}`: the body, after telling the renderer the name."""

    tags: ClassVar[set[str]] = {"snapshot"}

    def parse(self, parser: Parser) -> list[nodes.Node]:
        lineno = next(parser.stream).lineno
        name = parser.parse_assign_target(name_only=True).name
        body = parser.parse_statements(("name:endsnapshot",), drop_needle=True)
        announce = nodes.Call(nodes.Name(SNAPSHOT_NAME, "load"), [nodes.Const(name)], [], None, None)
        return [nodes.ExprStmt(announce, lineno=lineno), *body]


@dataclass(frozen=True)
class DocsBlock:
    name: str
    text: str
    path: str
    line: int


def read_docs_blocks(project_dir: Path, folders: tuple[str, ...]) -> dict[str, DocsBlock]:
    """Every `{% docs %}` block in the Markdown files under `folders`; a name defined twice is an error."""
    found: dict[str, DocsBlock] = {}
    paths = sorted(
        {p for folder in folders if (project_dir / folder).is_dir() for p in (project_dir / folder).rglob("*.md")}
    )
    for path in paths:
        relative = path.relative_to(project_dir).as_posix()
        text = path.read_text(encoding="utf-8")
        matched = 0
        for match in _DOCS.finditer(text):
            matched += 1
            name, line = match.group(1), text.count("\n", 0, match.start()) + 1
            if name in found:
                first = found[name]
                raise ProjectConfigError(
                    f"docs block {name!r} is defined twice: here and in {first.path}:{first.line}", relative, line
                )
            found[name] = DocsBlock(name, match.group(2).strip(), relative, line)
        opened = list(_DOCS_OPEN.finditer(text))
        if len(opened) != matched:
            line = text.count("\n", 0, opened[-1].start()) + 1 if opened else None
            raise ProjectConfigError(
                "a docs block is not closed or has no name: write {% docs name %} ... {% enddocs %}", relative, line
            )
    return found
