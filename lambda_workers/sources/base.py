"""What every source is: a position (the cursor) and a way to fetch the page at it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Delivered", "Page", "Source", "SourceContext", "records_at"]


@dataclass(frozen=True)
class Delivered:
    """A page's body exactly as the vendor sent it, and the dotted path of its records list ("" for the body).

    A source that can hand this over gets it stored as it is in the raw zone; the records it
    parsed from it are what the chain counts, checks and pages by.
    """

    body: bytes
    records_path: str


def records_at(body: Any, path: str) -> Any:
    """The value at the dotted `path` of a parsed body ("" is the body itself); KeyError where it ends early."""
    value = body
    for part in path.split(".") if path else []:
        if not isinstance(value, dict) or part not in value:
            raise KeyError(part)
        value = value[part]
    return value


@dataclass
class Page:
    """One fetch: its records as delivered, and where the next fetch starts.

    `exhausted`: nothing more is available now (the chain is done for this run).
    `window_closed`: nothing more will ever come for this partition, so a later run of the same
    asset and partition need not call the source at all (seed 000's "done for the window").
    `pause`: the source waits on something outside (a job still running) longer than this link
    has left: the link commits here and the next one goes on, instead of asking again at once.
    `delivered`: the body the records were parsed from, when the source keeps it.
    """

    records: list[dict[str, Any]]
    next_cursor: dict[str, Any]
    exhausted: bool
    window_closed: bool = False
    total: int | None = None
    pause: bool = False
    delivered: Delivered | None = None


@dataclass(frozen=True)
class SourceContext:
    """What a source may need from its surroundings: secrets and clients, injected."""

    secrets: Any  # lambda_workers.secrets.SecretReader
    s3: Any  # a boto3 S3 client
    remaining_seconds: Any  # () -> float, for waits that must fit in the link


class Source(ABC):
    """A source kind; `from_config` validates its part of the event before any side effect."""

    kind: str

    @classmethod
    @abstractmethod
    def from_config(cls, config: Mapping[str, Any], context: SourceContext) -> Source: ...

    @abstractmethod
    def initial_cursor(self) -> dict[str, Any]:
        """Where a chain starts that has no high-water mark."""

    @abstractmethod
    def fetch(self, cursor: Mapping[str, Any]) -> Page:
        """The page at `cursor`. Raises RetryLaterError when the wait would not fit the link."""

    def resume_cursor(self, high_water: Mapping[str, Any]) -> dict[str, Any]:
        """Where an incremental run starts from the last finished chain's final cursor."""
        return dict(high_water)
