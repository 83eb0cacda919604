"""Query-string parsing with errors that name the parameter and the problem (answered as 400)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from local_stack.vendor_api.config import parse_date
from local_stack.vendor_api.exceptions import BadRequest

__all__ = ["optional_str", "query_date", "query_int", "required_str"]


def required_str(query: Mapping[str, str], name: str) -> str:
    value = query.get(name)
    if value is None or value == "":
        raise BadRequest(f"{name}: required parameter is missing")
    return value


def optional_str(query: Mapping[str, str], name: str) -> str | None:
    value = query.get(name)
    return None if value == "" else value


def query_date(query: Mapping[str, str], name: str) -> date:
    value = required_str(query, name)
    try:
        return parse_date(value)
    except ValueError as exc:
        raise BadRequest(f"{name}: {value!r} is not a date (expected YYYY-MM-DD)") from exc


def query_int(query: Mapping[str, str], name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    """An integer parameter within [minimum, maximum]; absent means `default`."""
    value = query.get(name)
    if value is None:
        return default
    try:
        parsed = int(value)
    except ValueError as exc:
        raise BadRequest(f"{name}: {value!r} is not an integer") from exc
    if parsed < minimum or (maximum is not None and parsed > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise BadRequest(f"{name}: must be {bound}, got {parsed}")
    return parsed
