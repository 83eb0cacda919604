"""Intraday 5-minute bars of the first `intraday_instruments` symbols, 06:00-16:00 America/New_York.

A bar covers [ts, ts + 5 min) and is published at its end, so at 07:10 New York time only the
bars ending at or before 07:10 exist. `seq` numbers a date's bars in publication order
(slot-major, then symbol), starting at 1: the bars published by a moment are exactly
seq 1..N, so a client resuming from its high-water mark (`after`) gets only new bars.

Each bar interpolates between that day's daily open and close (see `prices`) with hashed
noise, so intraday and daily data tell the same story.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from local_stack.vendor_api.business_days import bday_index, is_business_day
from local_stack.vendor_api.hashing import hash_array, salt
from local_stack.vendor_api.prices import PriceModel, cents_columns

__all__ = ["BAR_MINUTES", "SLOTS_PER_DAY", "IntradayDay"]

NEW_YORK = ZoneInfo("America/New_York")
SESSION_OPEN = time(6, 0)
BAR_MINUTES = 5
SLOTS_PER_DAY = 120
_SALT_BAR = salt("intraday-bar")
_BAR_JSON = '{"symbol":"%s","ts":"%s","open":%s%s,"high":%s%s,"low":%s%s,"close":%s%s,"volume":%s,"seq":%s}'


@dataclass(frozen=True)
class IntradayDay:
    """The bars of one trading date for `symbols` instruments (0..symbols-1) as the clock stands at `now`."""

    day: date
    symbols: int
    now: datetime

    @property
    def session_open_utc(self) -> datetime:
        return datetime.combine(self.day, SESSION_OPEN, tzinfo=NEW_YORK).astimezone(UTC)

    @property
    def published_slots(self) -> int:
        """How many 5-minute slots have ended by `now` (0 on weekends)."""
        if not is_business_day(self.day) or self.symbols == 0:
            return 0
        elapsed = (self.now - self.session_open_utc) // timedelta(minutes=BAR_MINUTES)
        return max(0, min(SLOTS_PER_DAY, elapsed))

    @property
    def published(self) -> int:
        """The number of published bars, which is also the highest published seq."""
        return self.published_slots * self.symbols

    def bars_json(
        self, prices: PriceModel, seed: int, symbol_names: tuple[str, ...], after: int, limit: int
    ) -> list[str]:
        """The JSON objects of the published bars with seq in (after, after + limit]."""
        first, stop = after + 1, min(after + limit, self.published) + 1
        if stop <= first:
            return []
        seq = np.arange(first, stop, dtype=np.int64)
        slot, instrument = np.divmod(seq - 1, self.symbols)
        day = bday_index(self.day)
        daily = prices.bars(np.arange(self.symbols, dtype=np.int64), np.full(self.symbols, day, dtype=np.int64))
        day_open = daily.open[instrument].astype(np.float64)
        day_close = daily.close[instrument].astype(np.float64)
        start = day_open + (day_close - day_open) * slot / SLOTS_PER_DAY
        end = day_open + (day_close - day_open) * (slot + 1) / SLOTS_PER_DAY
        h = hash_array((seed, _SALT_BAR, day), seq)

        def noise(shift: int) -> np.ndarray:
            return ((h >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.float64) / 65536.0

        open_ = np.maximum(np.floor(start * (1.0 + 0.002 * (noise(0) - 0.5)) + 0.5), 1.0)
        close = np.maximum(np.floor(end * (1.0 + 0.002 * (noise(16) - 0.5)) + 0.5), 1.0)
        high = np.floor(np.maximum(open_, close) * (1.0 + 0.001 * noise(32)) + 0.5)
        low = np.maximum(np.floor(np.minimum(open_, close) * (1.0 - 0.001 * noise(48)) + 0.5), 1.0)
        volume = (daily.volume[instrument] / SLOTS_PER_DAY * (0.5 + noise(8))).astype(np.int64)
        session_open = self.session_open_utc
        stamps = [
            (session_open + timedelta(minutes=BAR_MINUTES * s)).strftime("%Y-%m-%dT%H:%M:%SZ")
            for s in range(int(slot[0]), int(slot[-1]) + 1)
        ]
        columns: list[list[object]] = [
            [symbol_names[i] for i in instrument.tolist()],
            [stamps[s - int(slot[0])] for s in slot.tolist()],
        ]
        for cents in (open_, high, low, close):
            columns.extend(cents_columns(cents.astype(np.int64)))
        columns.append(volume.tolist())
        columns.append(seq.tolist())
        return list(map(_BAR_JSON.__mod__, zip(*columns, strict=False)))
