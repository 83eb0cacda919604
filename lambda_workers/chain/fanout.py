"""Fan-out: split a dataset's key space into shards, each its own chain with its own cursor.

Shards are contiguous, inclusive key ranges of near-equal size, named `sNN-of-MM` so that their
raw prefixes sort in key order; the lake stitches them back together by reading the partition's
whole prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ShardRange", "shard_ranges"]


@dataclass(frozen=True)
class ShardRange:
    name: str
    first: str
    last: str


def shard_ranges(keys: Sequence[str], shards: int) -> list[ShardRange]:
    """`shards` ranges over the sorted distinct `keys`; fewer when there are fewer keys."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}")
    ordered = sorted(set(keys))
    if not ordered:
        raise ValueError("cannot shard an empty key space")
    count = min(shards, len(ordered))
    bounds = [round(i * len(ordered) / count) for i in range(count + 1)]
    return [
        ShardRange(f"s{i + 1:02d}-of-{count:02d}", ordered[bounds[i]], ordered[bounds[i + 1] - 1]) for i in range(count)
    ]
