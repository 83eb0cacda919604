"""One configuration's whole synthetic market: universe, price model, corporate actions, FX.

Building a `Market` precomputes the per-instrument constants (about 0.1 s for 3,000
instruments); everything else is computed per request from positions. The server swaps in a
new `Market` when the configuration changes, and each request works on the one it started with.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from local_stack.vendor_api.business_days import bday_index, date_of_bday, first_bday_on_or_after
from local_stack.vendor_api.config import VendorConfig
from local_stack.vendor_api.corporate_actions import ACTIONS_EPOCH_YEAR, ActionEvent, events_for
from local_stack.vendor_api.fx import FxModel
from local_stack.vendor_api.prices import PriceModel
from local_stack.vendor_api.universe import Universe

__all__ = ["Market"]


class Market:
    """The dataset of one configuration, plus the vendor-clock arithmetic shared by the endpoints."""

    def __init__(self, config: VendorConfig) -> None:
        self.config = config
        self.universe = Universe(config.seed, config.instruments, config.start_date)
        self.first_action_year = min(ACTIONS_EPOCH_YEAR, config.start_date.year)
        self.horizon_year = max(config.clock().year, datetime.now(UTC).year) + 1
        self.prices = PriceModel(config.seed, self.universe, self.first_action_year, self.horizon_year)
        self.fx = FxModel(config.seed)
        self.first_day = first_bday_on_or_after(config.start_date)
        self._actions_by_year = lru_cache(maxsize=64)(self._compute_actions_of_year)

    def covers(self, moment: datetime) -> bool:
        """Whether the precomputed split schedules reach `moment` (a real-time clock may outlive them)."""
        return moment.year <= self.horizon_year

    def last_published_day(self) -> int:
        """Index of the last business day with published end-of-day data: strictly before the clock's date."""
        return bday_index(self.config.clock().date()) - 1

    def actions_on(self, day: int) -> list[ActionEvent]:
        """The corporate actions whose ex-date is business day `day`, ordered by instrument then type."""
        return self._actions_by_year(date_of_bday(day).year).get(day, [])

    def _compute_actions_of_year(self, year: int) -> dict[int, list[ActionEvent]]:
        by_day: dict[int, list[ActionEvent]] = {}
        for i in range(self.config.instruments):
            for event in events_for(self.config.seed, i, year):
                by_day.setdefault(event.ex_day, []).append(event)
        return by_day
