"""What a chain's state looks like in Dagster: the metadata of observations and materialisations.

The driven asset reports a link's result; the relay sensor reports a cursor record read from
Parameter Store. Both go through `chain_metadata`, so the UI shows the same fields either way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import dagster as dg

from lambda_workers.chain.cursor_store import CursorRecord

__all__ = [
    "GB_SECOND_USD",
    "REQUEST_USD",
    "ChainProgress",
    "chain_metadata",
    "estimated_cost_usd",
    "record_result",
    "shards_metadata",
]

GB_SECOND_USD = 0.0000166667  # x86 price per GB-second in us-east-1
REQUEST_USD = 0.0000002
DEFAULT_MEMORY_MB = 512


def gb_seconds(billed_ms: int, memory_mb: int) -> float:
    return round(billed_ms / 1000 * memory_mb / 1024, 3)


def estimated_cost_usd(billed_ms: int, memory_mb: int, links: int) -> float:
    """Lambda's price for the chain: GB-seconds plus requests (us-east-1, x86)."""
    return round(billed_ms / 1000 * memory_mb / 1024 * GB_SECOND_USD + links * REQUEST_USD, 6)


def record_result(parameter: str, record: CursorRecord) -> dict[str, Any]:
    """A cursor record in the shape of a link's result (the fields `chain_metadata` reads)."""
    return {
        **record.progress(),
        "outcome": record.status,
        "memory_mb": int(record.extra.get("memory_mb", DEFAULT_MEMORY_MB)),
        "parameter": parameter,
    }


def shards_metadata(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One materialisation for all shards: counters summed, each shard's cursor kept."""
    summed = {key: sum(r[key] for r in results) for key in ("rows", "bytes", "chunks", "quarantined", "link")}
    billed = sum(r["billed_ms"] for r in results)
    memory = results[0]["memory_mb"]
    return {
        "status": "done" if all(r["status"] == "done" for r in results) else "incomplete",
        "shards": len(results),
        "chain_ids": dg.MetadataValue.json({r["parameter"]: r["chain_id"] for r in results}),
        "cursor": dg.MetadataValue.json({r["parameter"]: r["cursor"] for r in results}),
        "links": summed["link"],
        "rows": summed["rows"],
        "bytes": summed["bytes"],
        "chunks": summed["chunks"],
        "quarantined": summed["quarantined"],
        "duration_s": max(_duration_s(r) for r in results),
        "lambda_gb_seconds": gb_seconds(billed, memory),
        "estimated_cost_usd": estimated_cost_usd(billed, memory, summed["link"]),
    }


def chain_metadata(result: dict[str, Any]) -> dict[str, Any]:
    total = result.get("total")
    return {
        "chain_id": result.get("chain_id") or "",
        "status": result["status"],
        "outcome": result["outcome"],
        "cursor": dg.MetadataValue.json(result.get("cursor") or {}),
        "links": result["link"],
        "rows": result["rows"],
        "bytes": result["bytes"],
        "chunks": result["chunks"],
        "quarantined": result["quarantined"],
        "progress": dg.MetadataValue.float(
            1.0 if result["status"] == "done" else (result["rows"] / total if total else 0.0)
        ),
        "duration_s": _duration_s(result),
        "lambda_gb_seconds": gb_seconds(result["billed_ms"], result["memory_mb"]),
        "estimated_cost_usd": estimated_cost_usd(result["billed_ms"], result["memory_mb"], result["link"]),
        "s3_prefix": result.get("prefix") or "",
        "ssm_parameter": result["parameter"],
    }


def _duration_s(result: dict[str, Any]) -> float:
    """Wall time from the chain's start to its last commit (all links and the gaps between them)."""
    started, updated = result.get("started_at"), result.get("updated_at")
    if not started or not updated:
        return 0.0
    return round((datetime.fromisoformat(updated) - datetime.fromisoformat(started)).total_seconds(), 1)


class ChainProgress:
    """One log line per link: rows, cursor, and percent and ETA once the source tells its total.

    The rate behind the ETA is this run's own (rows since the run first saw the chain over the
    time since then), kept per chain, so shards driven side by side each get their own estimate.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._first_seen: dict[str, tuple[float, int]] = {}

    def line(self, result: dict[str, Any]) -> str:
        now = self._clock()
        started, rows_before = self._first_seen.setdefault(
            result["parameter"], (now - result["link_ms"] / 1000, result["rows"] - result["link_rows"])
        )
        text = (
            f"{result['parameter']} link {result['link']}: {result['outcome']}, +{result['link_rows']} rows in "
            f"{result['link_ms']:.0f} ms, {result['rows']} rows so far, cursor {json.dumps(result.get('cursor'))}"
        )
        total = result.get("total")
        if not total:
            return text
        text += f", {100 * result['rows'] / total:.0f}% of {total}"
        rate = (result["rows"] - rows_before) / max(now - started, 1e-3)
        if result["status"] == "running" and rate > 0:
            text += f", ETA {(total - result['rows']) / rate:.0f} s"
        return text
