"""Per-record checks: a failing record is quarantined with its reason, never silently skipped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambda_workers.events import Validation

__all__ = ["record_problem"]


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
