"""The S3 key of a chunk, formatted and parsed in this one place.

`<prefix>/<chain_id>/chunk-<row_from>-<row_to><suffix>`: `prefix` is the dataset partition's
(and shard's) raw or quarantine prefix, the rows are the half-open range the chunk holds, zero-
padded so that key order is row order. The suffix names the chunk's form
(`lambda_workers.chain.chunks`): `.json.gz` a page's body as the vendor delivered it,
`.jsonl.gz` records as JSON Lines. The worker writes these keys and removes a killed
attempt's leftovers by listing them; the lake reads a chunk's first row and its quarantine twin
from them. Any of these going out of step with the others would lose or misplace rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lambda_workers.exceptions import ChunkKeyError

__all__ = [
    "BODY_SUFFIX",
    "MANIFEST_NAME",
    "RECORDS_SUFFIX",
    "ROW_DIGITS",
    "SUFFIXES",
    "ChunkKey",
    "chain_prefix",
    "chunk_listing",
    "chunks_from_row",
    "manifest_chain",
    "manifest_key",
]

ROW_DIGITS = 12
RECORDS_SUFFIX = ".jsonl.gz"
BODY_SUFFIX = ".json.gz"
SUFFIXES = (RECORDS_SUFFIX, BODY_SUFFIX)
MANIFEST_NAME = "chain.json"
_NAME = re.compile(
    rf"chunk-(?P<row_from>[0-9]{{{ROW_DIGITS},}})-(?P<row_to>[0-9]{{{ROW_DIGITS},}})"
    rf"(?P<suffix>{'|'.join(re.escape(suffix) for suffix in SUFFIXES)})"
)


def chain_prefix(prefix: str, chain_id: str) -> str:
    """Where one chain's chunks live under the partition's prefix (a chain never mixes with another)."""
    return f"{prefix}/{chain_id}"


def manifest_key(prefix: str, chain_id: str) -> str:
    """A finished chain's manifest, beside its chunks: what its rows are (`ChainManifest`)."""
    return f"{chain_prefix(prefix, chain_id)}/{MANIFEST_NAME}"


def manifest_chain(key: str) -> tuple[str, str] | None:
    """The (prefix, chain id) whose manifest `key` is, or None if it is not a manifest's key."""
    rest, _, name = key.rpartition("/")
    prefix, _, chain_id = rest.rpartition("/")
    return (prefix, chain_id) if name == MANIFEST_NAME and prefix and chain_id else None


def chunk_listing(prefix: str, chain_id: str) -> str:
    """The listing prefix of exactly the chain's chunks."""
    return f"{chain_prefix(prefix, chain_id)}/chunk-"


def chunks_from_row(prefix: str, chain_id: str, row: int) -> str:
    """A `StartAfter` for the chain's listing: the keys after it are the chunks starting at `row` or later."""
    return f"{chunk_listing(prefix, chain_id)}{row:0{ROW_DIGITS}d}"


@dataclass(frozen=True)
class ChunkKey:
    """One chunk: the rows `row_from` (inclusive) to `row_to` (exclusive) of chain `chain_id`."""

    prefix: str
    chain_id: str
    row_from: int
    row_to: int
    suffix: str = RECORDS_SUFFIX

    def __post_init__(self) -> None:
        """Refuse a value whose key would not parse back into the same value."""
        problem = _problem(self)
        if problem is not None:
            raise ChunkKeyError(self.key, problem)

    @property
    def key(self) -> str:
        rows = f"{self.row_from:0{ROW_DIGITS}d}-{self.row_to:0{ROW_DIGITS}d}"
        return f"{chain_prefix(self.prefix, self.chain_id)}/chunk-{rows}{self.suffix}"

    @classmethod
    def parse(cls, key: str) -> ChunkKey:
        """The chunk a key names; `ChunkKeyError` naming the key if it is not a chunk key."""
        rest, _, name = key.rpartition("/")
        prefix, _, chain_id = rest.rpartition("/")
        rows = _NAME.fullmatch(name)
        if rows is None:
            raise ChunkKeyError(
                key, f"its name does not read chunk-<row_from>-<row_to> and one of {', '.join(SUFFIXES)}"
            )
        if not prefix or not chain_id:
            raise ChunkKeyError(key, "it lacks the prefix or the chain id before the chunk's name")
        chunk = cls(prefix, chain_id, int(rows["row_from"]), int(rows["row_to"]), rows["suffix"])
        if chunk.key != key:
            raise ChunkKeyError(key, f"its row numbers are not zero-padded to exactly {ROW_DIGITS} digits")
        return chunk


def _problem(chunk: ChunkKey) -> str | None:
    if not chunk.prefix or chunk.prefix.startswith("/") or chunk.prefix.endswith("/"):
        return f"the prefix {chunk.prefix!r} must be non-empty, without a leading or trailing '/'"
    if not chunk.chain_id or "/" in chunk.chain_id:
        return f"the chain id {chunk.chain_id!r} must be one non-empty path segment"
    if chunk.suffix not in SUFFIXES:
        return f"the suffix {chunk.suffix!r} is not one of {', '.join(SUFFIXES)}"
    if not 0 <= chunk.row_from < chunk.row_to:
        return f"the rows {chunk.row_from}-{chunk.row_to} are not a non-empty range from row 0 on"
    return None
