"""Chunk keys: one value formats and parses them, and a key that is not one says why."""

from __future__ import annotations

import itertools

import pytest

from lambda_workers.chain.chunk_keys import ChunkKey, chunk_listing, chunks_from_row
from lambda_workers.exceptions import ChunkKeyError

PREFIX = "raw/vendor/prices/2024-01-02/s01-of-04"
CHAIN_ID = "20240102T000000Z-abcd1234"


def test_a_key_formats_as_the_layout_and_parses_back() -> None:
    chunk = ChunkKey(PREFIX, CHAIN_ID, 10_000, 20_000)
    assert chunk.key == f"{PREFIX}/{CHAIN_ID}/chunk-000000010000-000000020000.jsonl.gz"
    assert ChunkKey.parse(chunk.key) == chunk


@pytest.mark.parametrize(("row_from", "row_to"), [(0, 1), (999_999_999_999, 1_000_000_000_000), (10**13, 10**13 + 7)])
def test_round_trip_at_the_edges_of_the_padding(row_from: int, row_to: int) -> None:
    chunk = ChunkKey(PREFIX, CHAIN_ID, row_from, row_to)
    assert ChunkKey.parse(chunk.key) == chunk


def test_key_order_is_row_order() -> None:
    bounds = [0, 7, 10, 99, 100, 10_000]
    keys = [ChunkKey(PREFIX, CHAIN_ID, a, b).key for a, b in itertools.pairwise(bounds)]
    assert sorted(keys) == keys


def test_the_listing_bounds_select_the_chunks_from_a_row_on() -> None:
    keys = [ChunkKey(PREFIX, CHAIN_ID, a, b).key for a, b in [(0, 5), (5, 10), (10, 15)]]
    listing, start_after = chunk_listing(PREFIX, CHAIN_ID), chunks_from_row(PREFIX, CHAIN_ID, 5)
    assert all(key.startswith(listing) for key in keys)
    assert [key for key in keys if key > start_after] == keys[1:], "S3 lists the keys after StartAfter"


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        (
            f"{PREFIX}/{CHAIN_ID}/part-00000.parquet",
            "its name does not read chunk-<row_from>-<row_to> and one of .jsonl.gz, .json.gz",
        ),
        (f"{PREFIX}/{CHAIN_ID}/chunk-5-10.jsonl.gz", "its name does not read"),
        (f"{PREFIX}/{CHAIN_ID}/chunk-000000000000-000000000005.jsonl", "its name does not read"),
        ("chunk-000000000000-000000000005.jsonl.gz", "lacks the prefix or the chain id"),
        (f"{CHAIN_ID}/chunk-000000000000-000000000005.jsonl.gz", "lacks the prefix or the chain id"),
        (f"{PREFIX}/{CHAIN_ID}/chunk-0000000000000-000000000005.jsonl.gz", "zero-padded to exactly 12 digits"),
        (f"{PREFIX}/{CHAIN_ID}/chunk-000000000005-000000000005.jsonl.gz", "the rows 5-5 are not a non-empty range"),
        (f"{PREFIX}//chunk-000000000000-000000000005.jsonl.gz", "lacks the prefix or the chain id"),
    ],
)
def test_a_key_that_does_not_parse_names_itself_and_the_problem(key: str, problem: str) -> None:
    with pytest.raises(ChunkKeyError) as raised:
        ChunkKey.parse(key)
    assert raised.value.key == key
    assert problem in str(raised.value) and repr(key) in str(raised.value)


@pytest.mark.parametrize(
    ("prefix", "chain_id", "row_from", "row_to", "problem"),
    [
        ("raw/x/", CHAIN_ID, 0, 1, "the prefix 'raw/x/'"),
        ("", CHAIN_ID, 0, 1, "the prefix ''"),
        (PREFIX, "a/b", 0, 1, "the chain id 'a/b'"),
        (PREFIX, CHAIN_ID, -1, 1, "the rows -1-1"),
        (PREFIX, CHAIN_ID, 3, 2, "the rows 3-2"),
    ],
)
def test_a_value_whose_key_would_not_parse_back_is_refused(
    prefix: str, chain_id: str, row_from: int, row_to: int, problem: str
) -> None:
    with pytest.raises(ChunkKeyError, match=problem):
        ChunkKey(prefix, chain_id, row_from, row_to)
