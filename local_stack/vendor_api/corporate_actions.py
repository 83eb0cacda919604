"""Corporate actions: sparse splits and cash dividends, a pure function of (seed, instrument, year).

Each instrument draws at most one split and one dividend per calendar year, with small
probabilities, so a few percent of the universe has an action in a given year. The price path
(see `prices`) divides by the cumulative split ratio from each ex-date on, which is what makes
the raw prices drop at a split while split-adjusted prices stay continuous. Dividends do not
move the price path.

Actions are drawn from `ACTIONS_EPOCH_YEAR` (or the history's start, if earlier) so that the
raw price of a given day does not depend on where the configured history starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from local_stack.vendor_api.business_days import first_bday_on_or_after, last_bday_on_or_before
from local_stack.vendor_api.hashing import hash_array, hash_ints, mix64, mix64_array, salt, unit, unit_array

__all__ = [
    "ACTIONS_EPOCH_YEAR",
    "DIVIDEND_PROBABILITY",
    "SPLIT_PROBABILITY",
    "ActionEvent",
    "SplitTable",
    "events_for",
    "split_table",
]

ACTIONS_EPOCH_YEAR = 2000
SPLIT_PROBABILITY = 0.02
DIVIDEND_PROBABILITY = 0.04
_SPLIT_RATIOS = ((2.0, 0.6), (3.0, 0.15), (1.5, 0.25))
_SALT_SPLIT = salt("split")
_SALT_DIVIDEND = salt("dividend")


@dataclass(frozen=True)
class ActionEvent:
    """One action before pricing: a dividend's cash amount is fixed later from the served prices.

    `ratio` is new shares per old share for a split (2.0 for 2:1, 1.5 for 3:2); `dividend_yield`
    is the fraction of the close before the ex-date paid per share.
    """

    instrument: int
    ex_day: int
    action_type: str
    ratio: float | None = None
    dividend_yield: float | None = None


def _year_bdays(year: int) -> tuple[int, int]:
    """(index of the year's first business day, number of business days in the year)."""
    first = first_bday_on_or_after(date(year, 1, 1))
    return first, last_bday_on_or_before(date(year, 12, 31)) - first + 1


def _split(instrument: int, year: int, key: int) -> ActionEvent | None:
    """The instrument's split in `year`, if it draws one; `key` is the instrument's split hash."""
    h = mix64(key ^ year)
    if unit(h) >= SPLIT_PROBABILITY:
        return None
    first, count = _year_bdays(year)
    return _event_from_split_hash(instrument, h, first, count)


def _event_from_split_hash(instrument: int, h: int, first: int, count: int) -> ActionEvent:
    pick = ((h >> 20) & 0xFFFF) / 65536.0
    ratio = _SPLIT_RATIOS[-1][0]
    for candidate, weight in _SPLIT_RATIOS:
        if pick < weight:
            ratio = candidate
            break
        pick -= weight
    return ActionEvent(instrument, first + (h & 0xFFFFF) % count, "split", ratio=ratio)


def _dividend(instrument: int, year: int, key: int) -> ActionEvent | None:
    """The instrument's dividend in `year`, if it draws one; `key` is the instrument's dividend hash."""
    h = mix64(key ^ year)
    if unit(h) >= DIVIDEND_PROBABILITY:
        return None
    first, count = _year_bdays(year)
    dividend_yield = 0.004 + 0.026 * ((h >> 20) & 0xFFFF) / 65536.0
    return ActionEvent(instrument, first + (h & 0xFFFFF) % count, "dividend", dividend_yield=dividend_yield)


def events_for(seed: int, instrument: int, year: int) -> list[ActionEvent]:
    """The actions of one instrument in one calendar year (usually none), split first."""
    split = _split(instrument, year, hash_ints(seed, _SALT_SPLIT, instrument))
    dividend = _dividend(instrument, year, hash_ints(seed, _SALT_DIVIDEND, instrument))
    return [event for event in (split, dividend) if event is not None]


@dataclass(frozen=True)
class SplitTable:
    """Every split of a universe over a span of years, sorted by (instrument, ex-day).

    `cumulative[k]` is the instrument's product of split ratios from `ex_day[k]` on. Built with
    numpy from the same hashes as `events_for`, so it agrees with the feed files.
    """

    instrument: np.ndarray
    ex_day: np.ndarray
    cumulative: np.ndarray


def split_table(seed: int, instruments: int, first_year: int, last_year: int) -> SplitTable:
    keys = hash_array((seed, _SALT_SPLIT), np.arange(instruments, dtype=np.int64))
    found: list[tuple[int, int, float]] = []
    for year in range(first_year, last_year + 1):
        h = mix64_array(keys ^ np.uint64(year))
        hits = np.flatnonzero(unit_array(h) < SPLIT_PROBABILITY)
        first, count = _year_bdays(year)
        for i, hh in zip(hits.tolist(), h[hits].tolist(), strict=True):
            event = _event_from_split_hash(i, hh, first, count)
            found.append((i, event.ex_day, event.ratio or 1.0))
    found.sort()
    cumulative: list[float] = []
    for n, (i, _, ratio) in enumerate(found):
        previous = cumulative[-1] if n and found[n - 1][0] == i else 1.0
        cumulative.append(previous * ratio)
    return SplitTable(
        instrument=np.array([i for i, _, _ in found], dtype=np.int64),
        ex_day=np.array([day for _, day, _ in found], dtype=np.int64),
        cumulative=np.array(cumulative, dtype=np.float64),
    )
