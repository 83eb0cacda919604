"""Business-day arithmetic in O(1): Monday to Friday, no holiday calendar.

A business day is addressed by its index, the number of business days before it since
0001-01-01 (a Monday). Converting between dates and indices is pure arithmetic, so a page
deep in a long history is located without walking the calendar.
"""

from __future__ import annotations

from datetime import date, timedelta

__all__ = ["bday_index", "date_of_bday", "first_bday_on_or_after", "is_business_day", "last_bday_on_or_before"]


def bday_index(day: date) -> int:
    """The number of business days strictly before `day`."""
    weeks, weekday = divmod(day.toordinal() - 1, 7)
    return 5 * weeks + min(weekday, 5)


def date_of_bday(index: int) -> date:
    """The business day with the given index."""
    weeks, weekday = divmod(index, 5)
    return date.fromordinal(7 * weeks + weekday + 1)


def is_business_day(day: date) -> bool:
    return day.weekday() < 5


def first_bday_on_or_after(day: date) -> int:
    """Index of the first business day on or after `day`."""
    return bday_index(day)


def last_bday_on_or_before(day: date) -> int:
    """Index of the last business day on or before `day`."""
    return bday_index(day + timedelta(days=1)) - 1
