"""YAML that remembers where each mapping and list item came from.

Errors about a schema.yml entry, and failing tests declared there, name the file and line; the
plain loader forgets lines, so mappings and lists are built as subclasses that keep them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from dbt_like_sql.engine.errors import SqlProjectError

__all__ = ["LineDict", "LineList", "line_of", "load_yaml"]


class LineDict(dict[str, Any]):
    """A mapping with the 1-based line of the mapping itself and of each key."""

    line: int = 0
    key_lines: dict[str, int]


class LineList(list[Any]):
    """A list with the 1-based line of each item."""

    line: int = 0
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    mapping = LineDict(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {str(key.value): key.start_mark.line + 1 for key, _ in node.value}
    return mapping


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    items = LineList(loader.construct_sequence(node, deep=True))
    items.line = node.start_mark.line + 1
    items.item_lines = [item.start_mark.line + 1 for item in node.value]
    return items


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(path: Path, relative: str, error: Callable[..., Exception] = SqlProjectError) -> Any:
    """The document in `path` (a SafeLoader: no Python objects); bad YAML raises `error(message, relative, line)`.

    Other YAML files with line-numbered errors (Baton's dataset declarations) read through it too.
    """
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise error(f"invalid YAML: {exc.problem or exc}", relative, mark.line + 1 if mark else None) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read the file: {exc}", relative) from exc


def line_of(container: Any, key: str | int | None = None) -> int | None:
    """The line of `container` (or of one of its keys or items) if it was loaded from YAML."""
    if isinstance(container, LineDict):
        return container.key_lines.get(str(key), container.line) if key is not None else container.line
    if isinstance(container, LineList):
        if isinstance(key, int) and 0 <= key < len(container.item_lines):
            return container.item_lines[key]
        return container.line
    return None
