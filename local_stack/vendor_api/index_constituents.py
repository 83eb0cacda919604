"""Index constituents, the result of the `index_constituents` ETL job.

Four capitalisation-weighted indices, each the largest members of a region by market value
in USD on the last business day on or before `as_of`: weights are that value over the
index's total, with eight decimals.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from local_stack.vendor_api.business_days import date_of_bday
from local_stack.vendor_api.hashing import hash_array, salt, unit_array
from local_stack.vendor_api.market import Market

__all__ = ["INDICES", "constituents_csv"]

INDICES: tuple[tuple[str, frozenset[str], int], ...] = (
    ("BTN-US50", frozenset({"XNYS", "XNAS"}), 50),
    ("BTN-EU30", frozenset({"XLON", "XETR"}), 30),
    ("BTN-JP25", frozenset({"XTKS"}), 25),
    ("BTN-GL100", frozenset({"XNYS", "XNAS", "XLON", "XETR", "XTKS"}), 100),
)
_SALT_SHARES = salt("shares-outstanding")


def constituents_csv(market: Market, day: int) -> bytes:
    """CSV `as_of,index_code,symbol,weight` for business day `day`, ordered by index then weight descending."""
    n = len(market.universe)
    instruments = np.arange(n, dtype=np.int64)
    bars = market.prices.bars(instruments, np.full(n, day, dtype=np.int64))
    shares = np.exp(
        np.log(1e7) + np.log(500.0) * unit_array(hash_array((market.config.seed, _SALT_SHARES), instruments))
    )
    rates = {currency: market.fx.rate(currency, day) for currency in {i.currency for i in market.universe.instruments}}
    usd_per_unit = np.array([1.0 / rates[inst.currency] for inst in market.universe.instruments])
    value = bars.close / 100.0 * shares * bars.split_factor * usd_per_unit
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("as_of", "index_code", "symbol", "weight"))
    as_of = date_of_bday(day).isoformat()
    for code, exchanges, size in INDICES:
        members = [inst.index for inst in market.universe.instruments if inst.exchange in exchanges]
        members.sort(key=lambda i: (-value[i], i))
        chosen = members[:size]
        total = float(sum(value[i] for i in chosen))
        for i in chosen:
            writer.writerow((as_of, code, market.universe.symbols[i], f"{value[i] / total:.8f}"))
    return out.getvalue().encode()
