"""What decides the synthetic dataset: the seed, the size of the universe, the history and the clock.

The same configuration always yields the same data. `now` is the vendor's clock: anything
published after it is not served, so a test moves `now` forward to make new rows appear for
an incremental load. Left unset, the clock is the real time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from local_stack.vendor_api.exceptions import ConfigError

__all__ = ["VendorConfig", "parse_date", "parse_timestamp"]

# The universe is held as Python objects: at this size a market takes ~3.5 s and ~40 MB to build.
MAX_INSTRUMENTS = 100_000


def parse_date(value: str) -> date:
    """An ISO date (YYYY-MM-DD); anything else is a ValueError."""
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError(f"expected YYYY-MM-DD, got {value!r}")
    return date.fromisoformat(value)


def parse_timestamp(value: str) -> datetime:
    """An ISO-8601 timestamp; a naive one is taken as UTC. The result is in UTC."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class VendorConfig:
    """The dataset's parameters; immutable, so a request works on one consistent snapshot."""

    seed: int = 7
    instruments: int = 3000
    intraday_instruments: int = 50
    start_date: date = date(2015, 1, 1)
    now: datetime | None = None
    job_seconds: float = 20.0

    def __post_init__(self) -> None:
        if not 1 <= self.instruments <= MAX_INSTRUMENTS:
            raise ConfigError(f"instruments must be between 1 and {MAX_INSTRUMENTS}, got {self.instruments}")
        if self.intraday_instruments < 0:
            raise ConfigError(f"intraday_instruments must be >= 0, got {self.intraday_instruments}")
        if self.job_seconds < 0:
            raise ConfigError(f"job_seconds must be >= 0, got {self.job_seconds}")
        if self.start_date.year < 1900:
            raise ConfigError(f"start_date must be in 1900 or later, got {self.start_date}")
        if self.now is not None and self.now.tzinfo is None:
            raise ConfigError("now must carry a time zone")

    @property
    def intraday_count(self) -> int:
        """How many symbols have intraday bars: the first `intraday_instruments`, at most all of them."""
        return min(self.intraday_instruments, self.instruments)

    def clock(self) -> datetime:
        """The vendor's current time, in UTC."""
        return self.now if self.now is not None else datetime.now(UTC)

    def updated(self, changes: Mapping[str, Any]) -> VendorConfig:
        """A copy with the JSON-style `changes` applied (`"now": null` returns to real time)."""
        known = {field for field in asdict(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(f"unknown config field(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        values = {name: _coerce(name, value) for name, value in changes.items()}
        return replace(self, **values)

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "instruments": self.instruments,
            "intraday_instruments": self.intraday_instruments,
            "start_date": self.start_date.isoformat(),
            "now": None if self.now is None else self.now.isoformat().replace("+00:00", "Z"),
            "job_seconds": self.job_seconds,
        }

    @classmethod
    def from_json_file(cls, path: Path) -> VendorConfig:
        try:
            loaded = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a JSON object")
        return cls().updated(loaded)


def _coerce(name: str, value: Any) -> Any:
    """One JSON config value as the dataclass field expects it."""
    if name in ("seed", "instruments", "intraday_instruments"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name} must be an integer, got {value!r}")
        return value
    if name == "job_seconds":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"job_seconds must be a number, got {value!r}")
        return float(value)
    if name == "now" and value in (None, "", "real"):
        return None
    try:
        return parse_date(value) if name == "start_date" else parse_timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: invalid value {value!r} ({exc})") from exc
