"""What a chain's state looks like in Dagster: the metadata of observations and materialisations.

The driven asset reports a link's result (`chain_metadata`); the relay sensor reports a cursor
record read from Parameter Store (`record_metadata`). Both read the chain's state through the
same fields, so the UI shows the same metadata either way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import dagster as dg

from lambda_workers.chain.cursor_store import CursorRecord
from lambda_workers.chain.link_result import LinkResult
from lambda_workers.chain.status import ChainStatus

__all__ = [
    "GB_SECOND_USD",
    "REQUEST_USD",
    "ChainProgress",
    "chain_metadata",
    "estimated_cost_usd",
    "record_metadata",
    "shards_metadata",
]

GB_SECOND_USD = 0.0000166667  # x86 price per GB-second in us-east-1
REQUEST_USD = 0.0000002
DEFAULT_MEMORY_MB = 512


def gb_seconds(billed_ms: int, memory_mb: int) -> float:
    return round(billed_ms / 1000 * memory_mb / 1024, 3)


def estimated_cost_usd(billed_ms: int, memory_mb: int, links: int) -> float:
    """Lambda's price for the chain: GB-seconds plus requests (us-east-1, x86)."""
    # To the nano-dollar: a fast one-link chain costs well under a micro-dollar, yet is not free.
    return round(billed_ms / 1000 * memory_mb / 1024 * GB_SECOND_USD + links * REQUEST_USD, 9)


class _ChainState(Protocol):
    """What a link's result and a cursor record both tell of a chain: all the metadata needs."""

    @property
    def chain_id(self) -> str | None: ...
    @property
    def status(self) -> ChainStatus: ...
    @property
    def cursor(self) -> dict[str, Any] | None: ...
    @property
    def link(self) -> int: ...
    @property
    def rows(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def chunks(self) -> int: ...
    @property
    def quarantined(self) -> int: ...
    @property
    def total(self) -> int | None: ...
    @property
    def billed_ms(self) -> int: ...
    @property
    def started_at(self) -> str | None: ...
    @property
    def updated_at(self) -> str | None: ...
    @property
    def prefix(self) -> str | None: ...


def chain_metadata(result: LinkResult) -> dict[str, Any]:
    """The metadata of a link's result: driven mode, one observation per link."""
    return _metadata(result, result.outcome, result.memory_mb, result.parameter)


def record_metadata(parameter: str, record: CursorRecord) -> dict[str, Any]:
    """The metadata of a committed record: relay mode, where no link's outcome is at hand, so the status stands in."""
    memory_mb = record.memory_mb if record.memory_mb is not None else DEFAULT_MEMORY_MB  # a record no link wrote
    return _metadata(record, record.status, memory_mb, parameter)


def shards_metadata(results: list[LinkResult]) -> dict[str, Any]:
    """One materialisation for all shards: counters summed, each shard's cursor kept."""
    links = sum(r.link for r in results)
    billed = sum(r.billed_ms for r in results)
    memory = results[0].memory_mb
    return {
        "status": ChainStatus.DONE.value if all(r.done for r in results) else "incomplete",
        "shards": len(results),
        "chain_ids": dg.MetadataValue.json({r.parameter: r.chain_id for r in results}),
        "cursor": dg.MetadataValue.json({r.parameter: r.cursor for r in results}),
        "links": links,
        "rows": sum(r.rows for r in results),
        "bytes": sum(r.bytes for r in results),
        "chunks": sum(r.chunks for r in results),
        "quarantined": sum(r.quarantined for r in results),
        "duration_s": max(_duration_s(r) for r in results),
        "lambda_gb_seconds": gb_seconds(billed, memory),
        "estimated_cost_usd": estimated_cost_usd(billed, memory, links),
    }


def _metadata(state: _ChainState, outcome: str, memory_mb: int, parameter: str) -> dict[str, Any]:
    done = state.status == ChainStatus.DONE
    return {
        "chain_id": state.chain_id or "",
        "status": state.status.value,
        "outcome": str(outcome),
        "cursor": dg.MetadataValue.json(state.cursor or {}),
        "links": state.link,
        "rows": state.rows,
        "bytes": state.bytes,
        "chunks": state.chunks,
        "quarantined": state.quarantined,
        "progress": dg.MetadataValue.float(1.0 if done else (state.rows / state.total if state.total else 0.0)),
        "duration_s": _duration_s(state),
        "lambda_gb_seconds": gb_seconds(state.billed_ms, memory_mb),
        "estimated_cost_usd": estimated_cost_usd(state.billed_ms, memory_mb, state.link),
        "s3_prefix": state.prefix or "",
        "ssm_parameter": parameter,
    }


def _duration_s(state: _ChainState) -> float:
    """Wall time from the chain's start to its last commit (all links and the gaps between them)."""
    if not state.started_at or not state.updated_at:
        return 0.0
    return round(
        (datetime.fromisoformat(state.updated_at) - datetime.fromisoformat(state.started_at)).total_seconds(), 1
    )


class ChainProgress:
    """One log line per link: rows, cursor, and percent and ETA once the source tells its total.

    The rate behind the ETA is this run's own (rows since the run first saw the chain over the
    time since then), kept per chain, so shards driven side by side each get their own estimate.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._first_seen: dict[str, tuple[float, int]] = {}

    def line(self, result: LinkResult) -> str:
        now = self._clock()
        started, rows_before = self._first_seen.setdefault(
            result.parameter, (now - result.link_ms / 1000, result.rows - result.link_rows)
        )
        outcome = f"{result.outcome} ({result.detail})" if result.detail else str(result.outcome)
        text = (
            f"{result.parameter} link {result.link}: {outcome}, +{result.link_rows} rows in "
            f"{result.link_ms:.0f} ms, {result.rows} rows so far, cursor {json.dumps(result.cursor)}"
        )
        if not result.total:
            return text
        text += f", {100 * result.rows / result.total:.0f}% of {result.total}"
        rate = (result.rows - rows_before) / max(now - started, 1e-3)
        if result.status == ChainStatus.RUNNING and rate > 0:
            text += f", ETA {(result.total - result.rows) / rate:.0f} s"
        return text
