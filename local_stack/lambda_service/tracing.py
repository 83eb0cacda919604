"""Trace ids that carry a hop count, so the service sees recursive loops as Lambda does.

Each invocation gets an X-Ray style trace id,
`Root=1-<epoch hex>-<24 hex>;Parent=<16 hex>;Sampled=0;Lineage=<fn hash>:<count>[|<fn hash>:<count>...]`,
handed to the runtime in `Lambda-Runtime-Trace-Id`. awslambdaric copies it into `_X_AMZN_TRACE_ID`
and botocore sends it back as `X-Amzn-Trace-Id` on every AWS call the handler makes, so an Invoke
made from inside a function arrives carrying its chain: the Root stays, and the Lineage counts how
many times each function of the chain has run. The hash is the first 8 hex digits of the SHA-256 of
the function ARN; entries of other functions pass through unchanged.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass

__all__ = ["MAX_RECURSION_DEPTH", "TraceContext", "next_hop"]

#: Lambda lets a chain run a function 16 times and stops the 17th invocation.
MAX_RECURSION_DEPTH = 16


@dataclass(frozen=True)
class TraceContext:
    """The trace id one invocation runs under, and how often its function already ran in the chain."""

    header: str
    depth: int

    @property
    def loop_detected(self) -> bool:
        return self.depth > MAX_RECURSION_DEPTH


def _function_hash(function_arn: str) -> str:
    return hashlib.sha256(function_arn.encode()).hexdigest()[:8]


def _fields(header: str | None) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in (header or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key:
            fields[key] = value
    return fields


def _lineage(value: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in value.split("|"):
        fn_hash, _, count = entry.partition(":")
        if fn_hash and count.isdigit():
            counts[fn_hash] = int(count)
    return counts


def next_hop(incoming_header: str | None, function_arn: str) -> TraceContext:
    """The trace for an invocation of `function_arn` requested under `incoming_header` (None: a new chain)."""
    fields = _fields(incoming_header)
    root = fields.get("Root") or f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"
    counts = _lineage(fields.get("Lineage", ""))
    fn_hash = _function_hash(function_arn)
    depth = counts.get(fn_hash, 0) + 1
    counts[fn_hash] = depth
    lineage = "|".join(f"{key}:{value}" for key, value in counts.items())
    header = f"Root={root};Parent={os.urandom(8).hex()};Sampled=0;Lineage={lineage}"
    return TraceContext(header=header, depth=depth)
