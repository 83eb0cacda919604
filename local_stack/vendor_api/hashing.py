"""Cheap deterministic hashing: every synthetic number is a pure function of (seed, position).

Nothing in the vendor API keeps a random generator's state, so any page can be produced in any
order, by any thread, after any restart, and come out byte for byte the same. splitmix64's
finaliser is used because it mixes well and costs a handful of integer operations; the numpy
versions compute the very same values for whole arrays at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

__all__ = ["GOLDEN", "MASK64", "hash_array", "hash_ints", "mix64", "mix64_array", "salt", "unit", "unit_array"]

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
_MUL1 = 0xBF58476D1CE4E5B9
_MUL2 = 0x94D049BB133111EB
_UNIT = 2.0**-53


def mix64(x: int) -> int:
    """splitmix64: a bijective scramble of a 64-bit integer."""
    x = (x + GOLDEN) & MASK64
    x = ((x ^ (x >> 30)) * _MUL1) & MASK64
    x = ((x ^ (x >> 27)) * _MUL2) & MASK64
    return x ^ (x >> 31)


def hash_ints(*parts: int) -> int:
    """A 64-bit hash of a sequence of integers (negative ones included)."""
    h = 0
    for part in parts:
        h = mix64(h ^ (part & MASK64))
    return h


def unit(h: int) -> float:
    """A float in [0, 1) from the top 53 bits of a hash."""
    return (h >> 11) * _UNIT


def salt(name: str) -> int:
    """A fixed 64-bit constant per purpose, so that two purposes never share a noise stream."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big")


def mix64_array(x: np.ndarray) -> np.ndarray:
    """splitmix64 over a uint64 array; numpy's uint64 arithmetic wraps, exactly like `& MASK64`."""
    x = x + np.uint64(GOLDEN)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(_MUL1)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(_MUL2)
    return x ^ (x >> np.uint64(31))


def hash_array(prefix: Sequence[int], values: np.ndarray, *suffix: int) -> np.ndarray:
    """`hash_ints(*prefix, v, *suffix)` for every v of a non-negative integer array, vectorised."""
    h = mix64_array(np.uint64(hash_ints(*prefix)) ^ values.astype(np.uint64))
    for part in suffix:
        h = mix64_array(h ^ np.uint64(part & MASK64))
    return h


def unit_array(h: np.ndarray) -> np.ndarray:
    """`unit` over a uint64 array."""
    return (h >> np.uint64(11)).astype(np.float64) * _UNIT
