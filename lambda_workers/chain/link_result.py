"""What one link reports: the chain's state after the link, and what the link itself did.

The handler returns `LinkResult.to_payload()` (Lambda needs a plain JSON object) and a driver
reads the payload back with `LinkResult.from_payload`, which checks every field, so worker and
driver agree on one typed shape instead of each spelling the dict's keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from lambda_workers.chain.cursor_store import CursorRecord
from lambda_workers.chain.status import ChainStatus, LinkOutcome
from lambda_workers.exceptions import LinkResultError

__all__ = ["LinkResult"]


@dataclass(frozen=True, kw_only=True)
class LinkResult:
    """One link's result; the chain's fields are its cursor record's as the link left it."""

    parameter: str  # the chain's cursor record in Parameter Store
    outcome: LinkOutcome
    detail: str | None  # what the outcome alone does not say: why the source asked to wait
    chain_id: str | None  # None: the chain never ran (status ABSENT)
    status: ChainStatus
    link: int
    cursor: dict[str, Any] | None
    rows: int
    bytes: int
    chunks: int
    quarantined: int
    total: int | None  # the source's row count, once it tells
    window_closed: bool
    last_error: str | None
    billed_ms: int  # the chain's, over all its links
    started_at: str | None
    updated_at: str | None
    prefix: str | None  # the chain's chunks in the lake bucket
    link_rows: int
    link_pages: int
    link_ms: float
    memory_mb: int
    max_rss_mb: float

    @property
    def done(self) -> bool:
        return self.status == ChainStatus.DONE

    @classmethod
    def after_link(
        cls,
        record: CursorRecord | None,
        *,
        parameter: str,
        outcome: LinkOutcome,
        detail: str | None = None,
        link_rows: int = 0,
        link_pages: int = 0,
        link_ms: float,
        memory_mb: int,
        max_rss_mb: float,
    ) -> LinkResult:
        """The result of a link that leaves `record` (None: there is no record, the chain never ran)."""
        never_ran = cls(
            parameter=parameter,
            outcome=outcome,
            detail=detail,
            link_rows=link_rows,
            link_pages=link_pages,
            link_ms=link_ms,
            memory_mb=memory_mb,
            max_rss_mb=max_rss_mb,
            chain_id=None,
            status=ChainStatus.ABSENT,
            link=0,
            cursor=None,
            rows=0,
            bytes=0,
            chunks=0,
            quarantined=0,
            total=None,
            window_closed=False,
            last_error=None,
            billed_ms=0,
            started_at=None,
            updated_at=None,
            prefix=None,
        )
        if record is None:
            return never_ran
        return replace(
            never_ran,
            chain_id=record.chain_id,
            status=record.status,
            link=record.link,
            cursor=record.cursor,
            rows=record.rows,
            bytes=record.bytes,
            chunks=record.chunks,
            quarantined=record.quarantined,
            total=record.total,
            window_closed=record.window_closed,
            last_error=record.last_error,
            billed_ms=record.billed_ms,
            started_at=record.started_at or None,
            updated_at=record.updated_at or None,
            prefix=record.prefix or None,
        )

    def to_payload(self) -> dict[str, Any]:
        """The JSON object the handler returns: every field (enums as their values) and `done`."""
        payload = {f.name: getattr(self, f.name) for f in fields(self)}
        payload["status"] = self.status.value
        payload["outcome"] = self.outcome.value
        payload["done"] = self.done
        return payload

    @classmethod
    def from_payload(cls, payload: object) -> LinkResult:
        """The result a link's payload holds; `LinkResultError` naming the first field that is wrong."""
        if not isinstance(payload, Mapping):
            raise LinkResultError(f"a link's result must be a JSON object, got {type(payload).__name__}")
        read = _Reader(payload)
        outcome, detail = read.outcome()
        return cls(
            parameter=read.text("parameter"),
            outcome=outcome,
            detail=detail,
            chain_id=read.optional_text("chain_id"),
            status=read.status(),
            link=read.integer("link"),
            cursor=read.optional_object("cursor"),
            rows=read.integer("rows"),
            bytes=read.integer("bytes"),
            chunks=read.integer("chunks"),
            quarantined=read.integer("quarantined"),
            total=read.optional_integer("total"),
            window_closed=read.flag("window_closed"),
            last_error=read.optional_text("last_error"),
            billed_ms=read.integer("billed_ms"),
            started_at=read.optional_text("started_at"),
            updated_at=read.optional_text("updated_at"),
            prefix=read.optional_text("prefix"),
            link_rows=read.integer("link_rows"),
            link_pages=read.integer("link_pages"),
            link_ms=read.number("link_ms"),
            memory_mb=read.integer("memory_mb"),
            max_rss_mb=read.number("max_rss_mb"),
        )


class _Reader:
    """Typed reads of a payload's fields, each failing with the field's name."""

    def __init__(self, payload: Mapping[str, Any]):
        self._payload = payload

    def _get(self, name: str) -> Any:
        if name not in self._payload:
            raise LinkResultError(f"a link's result lacks the field {name!r}")
        return self._payload[name]

    def _wrong(self, name: str, expected: str) -> LinkResultError:
        return LinkResultError(f"a link's result has {name} {self._payload[name]!r}, not {expected}")

    def integer(self, name: str) -> int:
        value = self._get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._wrong(name, "an integer")
        return value

    def optional_integer(self, name: str) -> int | None:
        return None if self._get(name) is None else self.integer(name)

    def number(self, name: str) -> float:
        value = self._get(name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self._wrong(name, "a number")
        return float(value)

    def text(self, name: str) -> str:
        value = self._get(name)
        if not isinstance(value, str):
            raise self._wrong(name, "a string")
        return value

    def optional_text(self, name: str) -> str | None:
        return None if self._get(name) is None else self.text(name)

    def flag(self, name: str) -> bool:
        value = self._get(name)
        if not isinstance(value, bool):
            raise self._wrong(name, "true or false")
        return value

    def optional_object(self, name: str) -> dict[str, Any] | None:
        value = self._get(name)
        if value is not None and not isinstance(value, dict):
            raise self._wrong(name, "a JSON object")
        return value

    def status(self) -> ChainStatus:
        value = self.text("status")
        if value not in tuple(ChainStatus):
            raise self._wrong("status", f"one of {', '.join(ChainStatus)}")
        return ChainStatus(value)

    def outcome(self) -> tuple[LinkOutcome, str | None]:
        """The outcome and its detail.

        Workers from before `LinkOutcome` sent no `detail` and, when the source asked to wait, the
        reason itself as the outcome: read so, a driver can run against workers not yet redeployed.
        """
        value = self.text("outcome")
        detail = self.optional_text("detail") if "detail" in self._payload else None
        if value in tuple(LinkOutcome):
            return LinkOutcome(value), detail
        return LinkOutcome.RETRY_LATER, value
