"""dbt's node selection: `name`, `+name` (with its ancestors), `name+` (with its descendants).

A depth may prefix or suffix the `+` (`2+name`, `name+1`); several selectors, or one string
holding several separated by spaces, select their union, as `--select "a b+"` does in dbt.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from difflib import get_close_matches

from dbt_like_sql.engine.errors import SelectionError
from dbt_like_sql.engine.graph import Graph

__all__ = ["select"]

_SELECTOR = re.compile(r"(?:(\d*)\+)?([A-Za-z_][A-Za-z0-9_$]*)(?:\+(\d*))?")


def select(graph: Graph, selectors: Iterable[str] | None) -> set[str]:
    """The selected node names; None or nothing selects every node."""
    items = [item for selector in selectors or () for item in selector.split()]
    if not items:
        return set(graph.nodes)
    selected: set[str] = set()
    for item in items:
        match = _SELECTOR.fullmatch(item)
        if match is None:
            raise SelectionError(
                f"cannot read selector {item!r}: use name, +name, name+ or +name+ (an optional depth next to +)"
            )
        up, name, down = match.groups()
        _check_known(name, graph.nodes)
        selected.add(name)
        if up is not None:
            selected |= graph.ancestors(name, int(up) if up else None)
        if down is not None:
            selected |= graph.descendants(name, int(down) if down else None)
    return selected


def _check_known(name: str, known: Collection[str]) -> None:
    if name not in known:
        close = get_close_matches(name, sorted(known), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise SelectionError(f"--select {name!r} matches no model or seed{hint}")
