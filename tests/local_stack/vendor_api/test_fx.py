"""`/v1/fx`: next-token pagination with opaque, stable tokens bound to their query."""

from __future__ import annotations

from typing import Any

from tests.local_stack.vendor_api.helpers import VendorClient

RANGE = {"from": "2024-01-01", "to": "2024-06-30"}
CURRENCIES = 20
PUBLISHED_DAYS = 44


def walk(vendor: VendorClient, limit: int) -> tuple[list[dict[str, Any]], list[str]]:
    rows: list[dict[str, Any]] = []
    tokens: list[str] = []
    params: dict[str, Any] = {**RANGE, "limit": limit}
    while True:
        page = vendor.get("/v1/fx", **params).json()
        rows.extend(page["data"])
        if page["next_token"] is None:
            return rows, tokens
        tokens.append(page["next_token"])
        params["next_token"] = page["next_token"]


def test_token_walk_returns_every_rate_once(vendor: VendorClient) -> None:
    rows, tokens = walk(vendor, 37)
    assert len(rows) == PUBLISHED_DAYS * CURRENCIES
    keys = [(row["date"], row["quote"]) for row in rows]
    assert len(set(keys)) == len(keys) and keys == sorted(keys)
    assert len(tokens) == len(rows) // 37
    assert {row["base"] for row in rows} == {"USD"}
    assert len({row["quote"] for row in rows}) == CURRENCIES
    for row in rows:
        assert row["rate"] > 0 and round(row["rate"], 6) == row["rate"]
    eur = [row["rate"] for row in rows if row["quote"] == "EUR"]
    assert 0.6 < min(eur) <= max(eur) < 1.4


def test_the_same_token_always_yields_the_same_page(vendor: VendorClient) -> None:
    _, tokens = walk(vendor, 50)
    token = tokens[len(tokens) // 2]
    first = vendor.get("/v1/fx", next_token=token, limit=50, **RANGE)
    vendor.get("/v1/prices", **RANGE)
    again = vendor.get("/v1/fx", next_token=token, limit=50, **RANGE)
    assert first.status == 200 and first.body == again.body


def test_a_token_from_another_query_or_mangled_is_refused(vendor: VendorClient) -> None:
    token = vendor.get("/v1/fx", limit=10, **RANGE).json()["next_token"]
    other = vendor.get("/v1/fx", next_token=token, **{"from": "2024-01-02", "to": "2024-06-30"})
    assert other.status == 400 and "next_token" in other.json()["error"]
    mangled = vendor.get("/v1/fx", next_token=token[:-3] + "AAA", **RANGE)
    assert mangled.status == 400 and "next_token" in mangled.json()["error"]
    garbage = vendor.get("/v1/fx", next_token="not-a-token!", **RANGE)
    assert garbage.status == 400
