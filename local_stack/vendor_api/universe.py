"""The instrument universe: symbols, ISINs, names, exchanges, sectors, listing dates.

Instrument `i` (0-based) is a pure function of (seed, i). Symbols are `SYM` plus the 1-based
index, zero-padded to a fixed width (at least five digits), so lexical order equals index order:
a symbol range used for sharding maps to an index range by bisection.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date

from local_stack.vendor_api.business_days import date_of_bday, first_bday_on_or_after, last_bday_on_or_before
from local_stack.vendor_api.hashing import hash_ints, salt, unit

__all__ = ["EXCHANGES", "SECTORS", "Exchange", "Instrument", "Universe", "isin_check_digit"]


@dataclass(frozen=True)
class Exchange:
    mic: str
    currency: str
    country: str
    weight: float


EXCHANGES: tuple[Exchange, ...] = (
    Exchange("XNYS", "USD", "US", 0.30),
    Exchange("XNAS", "USD", "US", 0.30),
    Exchange("XLON", "GBP", "GB", 0.15),
    Exchange("XETR", "EUR", "DE", 0.12),
    Exchange("XTKS", "JPY", "JP", 0.13),
)

SECTORS: tuple[str, ...] = (
    "Energy",
    "Materials",
    "Industrials",
    "Consumer Discretionary",
    "Consumer Staples",
    "Health Care",
    "Financials",
    "Information Technology",
    "Communication Services",
    "Utilities",
    "Real Estate",
)

_NAME_FIRST = (
    "Northern",
    "Atlantic",
    "Pacific",
    "Summit",
    "Granite",
    "Silver",
    "Crescent",
    "Harbor",
    "Pioneer",
    "Evergreen",
    "Meridian",
    "Falcon",
    "Cobalt",
    "Aurora",
    "Keystone",
    "Redwood",
    "Sterling",
    "Vanguard",
    "Horizon",
    "Liberty",
)
_NAME_SECOND = (
    "Quantum",
    "Dynamics",
    "Energy",
    "Foods",
    "Logistics",
    "Pharma",
    "Networks",
    "Capital",
    "Materials",
    "Motors",
    "Systems",
    "Retail",
    "Biotech",
    "Media",
    "Utilities",
    "Realty",
    "Semiconductor",
    "Aerospace",
    "Chemicals",
    "Software",
)
_NAME_SUFFIX = ("Holdings", "Group", "Corp", "Inc", "plc", "AG", "Ltd", "SA", "Partners", "Industries")

_SALT_INSTRUMENT = salt("instrument")
_LISTING_FLOOR = date(1980, 1, 1)
_LISTING_CEILING = date(2014, 12, 31)


def isin_check_digit(body: str) -> int:
    """The ISO 6166 check digit of the first 11 ISIN characters (letters count as 10..35, then Luhn)."""
    digits = "".join(str(int(ch, 36)) for ch in body)
    total = 0
    for position, ch in enumerate(reversed(digits)):
        value = int(ch)
        if position % 2 == 0:
            value *= 2
        total += value // 10 + value % 10
    return (10 - total % 10) % 10


@dataclass(frozen=True)
class Instrument:
    index: int
    symbol: str
    isin: str
    name: str
    exchange: str
    currency: str
    sector: str
    listed_on: date


class Universe:
    """All instruments of one configuration, built once (a few ms per thousand instruments)."""

    def __init__(self, seed: int, size: int, start_date: date) -> None:
        width = max(5, len(str(size)))
        ceiling = min(_LISTING_CEILING, start_date)
        floor_index = first_bday_on_or_after(min(_LISTING_FLOOR, ceiling))
        span = max(1, last_bday_on_or_before(ceiling) - floor_index)
        cumulative: list[tuple[float, Exchange]] = []
        running = 0.0
        for exchange in EXCHANGES:
            running += exchange.weight
            cumulative.append((running, exchange))
        instruments: list[Instrument] = []
        for i in range(size):
            h = hash_ints(seed, _SALT_INSTRUMENT, i)
            pick = unit(h) * running
            exchange = next((ex for bound, ex in cumulative if pick < bound), EXCHANGES[-1])
            body = f"{exchange.country}BT{i + 1:07d}"
            name = " ".join(
                (
                    _NAME_FIRST[(h >> 8) % len(_NAME_FIRST)],
                    _NAME_SECOND[(h >> 16) % len(_NAME_SECOND)],
                    _NAME_SUFFIX[(h >> 24) % len(_NAME_SUFFIX)],
                )
            )
            instruments.append(
                Instrument(
                    index=i,
                    symbol=f"SYM{i + 1:0{width}d}",
                    isin=body + str(isin_check_digit(body)),
                    name=name,
                    exchange=exchange.mic,
                    currency=exchange.currency,
                    sector=SECTORS[(h >> 32) % len(SECTORS)],
                    listed_on=date_of_bday(floor_index + (h >> 40) % span),
                )
            )
        self.instruments: tuple[Instrument, ...] = tuple(instruments)
        self.symbols: tuple[str, ...] = tuple(inst.symbol for inst in instruments)

    def __len__(self) -> int:
        return len(self.instruments)

    def index_range(self, symbol_from: str | None, symbol_to: str | None) -> range:
        """The indices of the symbols in the inclusive range [symbol_from, symbol_to] (either end open)."""
        low = 0 if symbol_from is None else bisect_left(self.symbols, symbol_from)
        high = len(self.symbols) if symbol_to is None else bisect_right(self.symbols, symbol_to)
        return range(low, max(low, high))
