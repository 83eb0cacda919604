"""Reading a source's part of the event: each problem names the field, before any side effect."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambda_workers.exceptions import EventError

__all__ = ["optional_str", "require_int", "require_mapping", "require_number", "require_str"]


def require_str(config: Mapping[str, Any], name: str, where: str = "source") -> str:
    value = config.get(name)
    if not isinstance(value, str) or not value:
        raise EventError(f"{where}.{name}", f"is required and must be a non-empty string; got {value!r}")
    return value


def optional_str(config: Mapping[str, Any], name: str, default: str | None = None, where: str = "source") -> str | None:
    value = config.get(name, default)
    if value is not None and not isinstance(value, str):
        raise EventError(f"{where}.{name}", f"must be a string; got {value!r}")
    return value


def require_int(
    config: Mapping[str, Any], name: str, default: int, minimum: int, maximum: int, where: str = "source"
) -> int:
    value = config.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise EventError(f"{where}.{name}", f"must be an integer from {minimum} to {maximum}; got {value!r}")
    return value


def require_number(
    config: Mapping[str, Any], name: str, default: float, minimum: float, maximum: float, where: str = "source"
) -> float:
    value = config.get(name, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise EventError(f"{where}.{name}", f"must be a number from {minimum:g} to {maximum:g}; got {value!r}")
    return float(value)


def require_mapping(
    config: Mapping[str, Any], name: str, default: Mapping[str, Any] | None = None, where: str = "source"
) -> dict[str, Any]:
    value = config.get(name, default)
    if not isinstance(value, Mapping):
        raise EventError(f"{where}.{name}", f"must be an object; got {value!r}")
    return dict(value)
