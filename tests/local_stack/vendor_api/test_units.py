"""In-process checks of the arithmetic the endpoints rely on."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from local_stack.vendor_api.business_days import bday_index, date_of_bday, is_business_day, last_bday_on_or_before
from local_stack.vendor_api.config import VendorConfig
from local_stack.vendor_api.corporate_actions import events_for, split_table
from local_stack.vendor_api.exceptions import ConfigError
from local_stack.vendor_api.market import Market
from local_stack.vendor_api.universe import isin_check_digit


def test_business_day_indices_round_trip() -> None:
    day, expected = date(2023, 12, 25), bday_index(date(2023, 12, 25))
    for _ in range(800):
        if is_business_day(day):
            assert bday_index(day) == expected and date_of_bday(expected) == day
            expected += 1
        else:
            assert bday_index(day) == expected
        day += timedelta(days=1)
    assert date_of_bday(last_bday_on_or_before(date(2024, 3, 3))) == date(2024, 3, 1)


def test_isin_check_digits_of_real_isins() -> None:
    assert isin_check_digit("US037833100") == 5
    assert isin_check_digit("GB000263494") == 6
    assert isin_check_digit("DE000BAY001") == 7


def test_split_table_agrees_with_per_instrument_events() -> None:
    table = split_table(7, 500, 2015, 2025)
    events = [e for i in range(500) for y in range(2015, 2026) for e in events_for(7, i, y)]
    splits = [(e.instrument, e.ex_day) for e in events if e.action_type == "split"]
    assert list(zip(table.instrument.tolist(), table.ex_day.tolist(), strict=True)) == splits
    assert len(table.ex_day) > 50


def test_bars_of_single_pairs_equal_the_same_bars_in_bulk() -> None:
    market = Market(VendorConfig(instruments=50, now=datetime(2024, 3, 1, tzinfo=UTC)))
    instruments = np.arange(50, dtype=np.int64)
    days = np.full(50, bday_index(date(2024, 2, 1)), dtype=np.int64)
    bulk = market.prices.bars(instruments, days)
    for i in (0, 17, 49):
        single = market.prices.bars(instruments[i : i + 1], days[i : i + 1])
        assert int(single.close[0]) == int(bulk.close[i]) and int(single.volume[0]) == int(bulk.volume[i])


@pytest.mark.parametrize(
    "changes",
    [{"instruments": 0}, {"seed": "7"}, {"start_date": "2024/01/01"}, {"now": "soon"}, {"colour": "blue"}],
)
def test_invalid_config_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        VendorConfig().updated(changes)
