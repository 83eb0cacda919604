"""Shards cover the key space exactly once, in order."""

from __future__ import annotations

import pytest

from lambda_workers.chain.fanout import shard_ranges


def test_shards_are_contiguous_disjoint_and_balanced() -> None:
    keys = [f"SYM{i:05d}" for i in range(1, 3001)]
    ranges = shard_ranges(list(reversed(keys)), 4)
    assert [r.name for r in ranges] == ["s01-of-04", "s02-of-04", "s03-of-04", "s04-of-04"]
    covered = [k for r in ranges for k in keys if r.first <= k <= r.last]
    assert covered == keys
    assert ranges[0] == type(ranges[0])("s01-of-04", "SYM00001", "SYM00750")


def test_fewer_keys_than_shards_and_bad_counts() -> None:
    assert [(r.first, r.last) for r in shard_ranges(["B", "A", "A"], 5)] == [("A", "A"), ("B", "B")]
    with pytest.raises(ValueError, match="at least 1"):
        shard_ranges(["A"], 0)
    with pytest.raises(ValueError, match="empty"):
        shard_ranges([], 2)
