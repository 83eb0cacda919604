"""Per-record checks: a failing record is quarantined with its reason, never silently skipped.

`record_problem` is the definition. `page_problems` applies it to a page, but first proves in
a few C-level passes per column (the set of value types, `None in`, `"" in`) that nothing in
the page can fail; only a page where that proof fails is checked record by record. A clean
price page is checked about ten times faster that way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from lambda_workers.events import Validation

__all__ = ["page_problems", "record_problem"]


def record_problem(record: Mapping[str, Any], rules: Validation) -> str | None:
    """The first thing wrong with `record`, or None if it passes."""
    if record.get("_extra"):
        return f"the row has more fields than the header: {record['_extra']!r}"
    for name in rules.required:
        if record.get(name) in (None, ""):
            return f"field {name!r} is missing or empty"
    for name, kind in rules.types.items():
        value = record.get(name)
        if value is None or value == "":
            continue
        if not _conforms(value, kind):
            return f"field {name!r} is {value!r}, not a {kind}"
    return None


_ALWAYS_CONFORM: dict[str, frozenset[type]] = {
    "string": frozenset({str}),
    "boolean": frozenset({bool}),
    "integer": frozenset({int}),
    "number": frozenset({int, float}),
}


def page_problems(records: Sequence[Mapping[str, Any]], rules: Validation) -> list[tuple[int, str]]:
    """(index, problem) for each record of the page that fails `record_problem`, in page order."""
    if not _clean(records, rules):
        return [(index, problem) for index, record in enumerate(records) if (problem := record_problem(record, rules))]
    return []


def _clean(records: Sequence[Mapping[str, Any]], rules: Validation) -> bool:
    """True only if no record can have a problem; False means: check each record."""
    if any("_extra" in record for record in records):
        return False
    for name in dict.fromkeys([*rules.required, *rules.types]):
        values = [record.get(name) for record in records]
        if name in rules.required and (None in values or "" in values):
            return False
        kind = rules.types.get(name)
        if kind is None:
            continue
        present = set(map(type, values))
        present.discard(type(None))
        if not present <= _ALWAYS_CONFORM[kind]:
            return False
        if float in present and not _all_finite(values):
            return False
    return True


def _all_finite(values: list[Any]) -> bool:
    """No NaN (nor infinity, which the per-record check then judges) among the numbers: one C-level sum."""
    numbers = [value for value in values if value is not None] if None in values else values
    try:
        return math.isfinite(sum(numbers))
    except OverflowError:  # an integer too large for a float: the per-record check decides
        return False


def _conforms(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if isinstance(value, bool):
        return False
    if kind == "integer":
        if isinstance(value, int):
            return True
        return isinstance(value, str) and value.lstrip("-").isdigit()
    if isinstance(value, int | float):
        return value == value  # NaN is not a number here
    try:
        parsed = float(value)
    except (TypeError, ValueError):
        return False
    return parsed == parsed
