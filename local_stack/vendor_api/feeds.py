"""Corporate-action feed files: one file per business day listing the actions with that ex-date.

A day's file is published at 00:00 UTC on that day (actions are announced ahead of their
ex-date), in CSV or XML. Columns: action_id, symbol, ex_date, action_type (split|dividend),
ratio (new shares per old share, e.g. 2 for 2:1 or 1.5 for 3:2; empty for dividends), amount
(cash per share in `currency`, two decimals; empty for splits), currency.

A dividend's amount is its yield times the close of the business day before the ex-date,
so it is consistent with the served prices.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from xml.sax.saxutils import escape

from local_stack.vendor_api.business_days import bday_index, is_business_day
from local_stack.vendor_api.exceptions import NotFound
from local_stack.vendor_api.market import Market

__all__ = ["FEED_COLUMNS", "FeedAction", "feed_actions", "render_feed"]

FEED_COLUMNS = ("action_id", "symbol", "ex_date", "action_type", "ratio", "amount", "currency")
FORMATS = ("csv", "xml")


@dataclass(frozen=True)
class FeedAction:
    action_id: str
    symbol: str
    ex_date: str
    action_type: str
    ratio: str
    amount: str
    currency: str


def feed_actions(market: Market, day: date, now: datetime) -> list[FeedAction]:
    """The actions in the feed file of `day`; a day without a published file is a NotFound."""
    if not is_business_day(day):
        raise NotFound(f"no corporate-action feed on {day}: feeds are published on business days only")
    if day < market.config.start_date:
        raise NotFound(f"no corporate-action feed on {day}: the vendor's history starts on {market.config.start_date}")
    if day > now.date():
        raise NotFound(f"the corporate-action feed of {day} is not published yet (vendor clock: {now.isoformat()})")
    index = bday_index(day)
    actions = []
    for event in market.actions_on(index):
        instrument = market.universe.instruments[event.instrument]
        ratio = amount = ""
        if event.ratio is not None:
            ratio = f"{event.ratio:g}"
        if event.dividend_yield is not None:
            amount = f"{max(0.01, market.prices.close(event.instrument, index - 1) * event.dividend_yield):.2f}"
        code = "SPLIT" if event.action_type == "split" else "DIV"
        actions.append(
            FeedAction(
                action_id=f"{instrument.symbol}-{day:%Y%m%d}-{code}",
                symbol=instrument.symbol,
                ex_date=day.isoformat(),
                action_type=event.action_type,
                ratio=ratio,
                amount=amount,
                currency=instrument.currency,
            )
        )
    return actions


def render_feed(day: date, actions: list[FeedAction], fmt: str) -> tuple[bytes, str]:
    """(body, content type) of a feed file in `fmt` ("csv" or "xml")."""
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(FEED_COLUMNS)
        for action in actions:
            writer.writerow([getattr(action, column) for column in FEED_COLUMNS])
        return out.getvalue().encode(), "text/csv; charset=utf-8"
    parts = [
        f'<?xml version="1.0" encoding="UTF-8"?>\n<corporate_actions date="{day.isoformat()}" count="{len(actions)}">'
    ]
    for action in actions:
        fields = "".join(f"<{column}>{escape(getattr(action, column))}</{column}>" for column in FEED_COLUMNS)
        parts.append(f"<action>{fields}</action>")
    parts.append("</corporate_actions>\n")
    return "\n".join(parts).encode(), "application/xml; charset=utf-8"
