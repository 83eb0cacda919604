"""Daily FX rates of 20 currencies against USD, and the opaque tokens of the FX endpoint.

A rate is an O(1) function of (seed, currency, business day): a realistic level times a slow
deterministic swing and hashed daily noise, quoted as units of the currency per USD with six
decimals. Rows are ordered by (date, quote currency), so a position in the feed is simply
`day_index * len(CURRENCIES) + currency_index`.

The next token is base64 of the query's bounds and that absolute position, with a checksum:
it is stable (the same token always yields the same page) and a token from another query or
a mangled one is recognised and refused.
"""

from __future__ import annotations

import base64
import binascii
import math
import zlib
from datetime import date

from local_stack.vendor_api.business_days import date_of_bday
from local_stack.vendor_api.exceptions import BadRequest
from local_stack.vendor_api.hashing import hash_ints, mix64, salt, unit

__all__ = ["CURRENCIES", "FxModel", "decode_token", "encode_token"]

CURRENCIES: tuple[tuple[str, float], ...] = (
    ("AUD", 1.45),
    ("BRL", 5.2),
    ("CAD", 1.33),
    ("CHF", 0.91),
    ("CNY", 7.05),
    ("DKK", 6.8),
    ("EUR", 0.91),
    ("GBP", 0.78),
    ("HKD", 7.8),
    ("INR", 80.0),
    ("JPY", 130.0),
    ("KRW", 1250.0),
    ("MXN", 18.5),
    ("NOK", 10.2),
    ("NZD", 1.6),
    ("PLN", 4.1),
    ("SEK", 10.4),
    ("SGD", 1.35),
    ("TRY", 25.0),
    ("ZAR", 17.5),
)
_SALT_FX = salt("fx")
_REFERENCE_ORDINAL = date(2015, 1, 1).toordinal()
_TOKEN_PREFIX = "fx1"


class FxModel:
    """USD-based rates for `CURRENCIES`, from per-currency constants computed once."""

    def __init__(self, seed: int) -> None:
        self._params: list[tuple[str, float, float, float, float, int]] = []
        for n, (code, level) in enumerate(CURRENCIES):
            h = hash_ints(seed, _SALT_FX, n)
            self._params.append(
                (
                    code,
                    math.log(level),
                    2.0 * math.pi * unit(h),
                    0.05 + 0.1 * ((h >> 8) & 0xFFFF) / 65536.0,
                    1.5 + 4.0 * ((h >> 24) & 0xFFFF) / 65536.0,
                    hash_ints(seed, _SALT_FX, n, 1),
                )
            )
        self._index = {code: n for n, (code, _) in enumerate(CURRENCIES)}

    def rate(self, currency: str, day: int) -> float:
        """Units of `currency` per USD on business day `day` (1.0 for USD itself)."""
        if currency == "USD":
            return 1.0
        return self._rate(self._index[currency], day)

    def _rate(self, n: int, day: int) -> float:
        _, log_level, phase, amplitude, period, key = self._params[n]
        years = (date_of_bday(day).toordinal() - _REFERENCE_ORDINAL) / 365.25
        noise = unit(mix64(key ^ day)) - 0.5
        return round(math.exp(log_level + amplitude * math.sin(2 * math.pi * years / period + phase) + 0.01 * noise), 6)

    def rows(self, start: int, stop: int) -> list[dict[str, object]]:
        """The rows at absolute positions [start, stop)."""
        width = len(CURRENCIES)
        out: list[dict[str, object]] = []
        for position in range(start, stop):
            day, n = divmod(position, width)
            out.append(
                {
                    "date": date_of_bday(day).isoformat(),
                    "base": "USD",
                    "quote": CURRENCIES[n][0],
                    "rate": self._rate(n, day),
                }
            )
        return out


def encode_token(first: date, last: date, position: int) -> str:
    payload = f"{_TOKEN_PREFIX}|{first.isoformat()}|{last.isoformat()}|{position}"
    checksum = zlib.crc32(payload.encode()) & 0xFFFFFFFF
    return base64.urlsafe_b64encode(f"{payload}|{checksum:08x}".encode()).decode().rstrip("=")


def decode_token(token: str, first: date, last: date) -> int:
    """The absolute position a token points at; a token that is malformed or from another query is a 400."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, token_first, token_last, position, checksum = raw.split("|")
        payload = f"{prefix}|{token_first}|{token_last}|{position}"
        valid = prefix == _TOKEN_PREFIX and int(checksum, 16) == zlib.crc32(payload.encode()) & 0xFFFFFFFF
        value = int(position)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"next_token: unknown token {token!r}") from exc
    if not valid or value < 0:
        raise BadRequest(f"next_token: unknown token {token!r}")
    if (token_first, token_last) != (first.isoformat(), last.isoformat()):
        raise BadRequest(
            f"next_token: the token belongs to from={token_first}&to={token_last}, not from={first}&to={last}"
        )
    return value
