"""`/v1/instruments.xml`: page-number pagination over the universe, with valid reference data."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from tests.local_stack.vendor_api.helpers import SMALL_CONFIG, VendorClient

FIELDS = ["symbol", "isin", "name", "exchange", "currency", "sector", "listed_on"]
CURRENCY_OF = {"XNYS": "USD", "XNAS": "USD", "XLON": "GBP", "XETR": "EUR", "XTKS": "JPY"}
COUNTRY_OF = {"XNYS": "US", "XNAS": "US", "XLON": "GB", "XETR": "DE", "XTKS": "JP"}


def isin_is_valid(isin: str) -> bool:
    """ISO 6166: letters become 10..35, then the Luhn check over all digits including the check digit."""
    if not re.fullmatch(r"[A-Z]{2}[A-Z0-9]{9}[0-9]", isin):
        return False
    digits = [int(d) for d in "".join(str(int(ch, 36)) for ch in isin)]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if position % 2 == 1 else digit
        total += doubled // 10 + doubled % 10
    return total % 10 == 0


def test_known_isins_validate() -> None:
    assert isin_is_valid("US0378331005")
    assert not isin_is_valid("US0378331006")


def test_pages_walk_the_universe_exactly_once(vendor: VendorClient) -> None:
    page, seen, total_pages = 1, [], None
    while True:
        result = vendor.get("/v1/instruments.xml", page=page, page_size=7)
        assert result.status == 200
        assert result.headers["content-type"].startswith("application/xml")
        root = ET.fromstring(result.body)
        assert (root.tag, root.get("page"), root.get("page_size")) == ("instruments", str(page), "7")
        assert root.get("total") == str(SMALL_CONFIG["instruments"])
        total_pages = int(root.get("total_pages", "0"))
        items = root.findall("instrument")
        if not items:
            break
        for item in items:
            assert [child.tag for child in item] == FIELDS
            seen.append({child.tag: child.text for child in item})
        page += 1
    assert total_pages == 6 and page == 7
    symbols = [row["symbol"] for row in seen]
    assert len(symbols) == len(set(symbols)) == SMALL_CONFIG["instruments"]
    assert symbols == sorted(symbols) and symbols[0] == "SYM00001"
    assert {len(s) for s in symbols} == {8}


def test_reference_data_is_consistent(vendor: VendorClient) -> None:
    root = ET.fromstring(vendor.get("/v1/instruments.xml", page_size=5000).body)
    rows = [{child.tag: child.text or "" for child in item} for item in root.findall("instrument")]
    assert len(rows) == SMALL_CONFIG["instruments"]
    for row in rows:
        assert isin_is_valid(row["isin"]), row
        assert row["currency"] == CURRENCY_OF[row["exchange"]]
        assert row["isin"][:2] == COUNTRY_OF[row["exchange"]]
        assert row["listed_on"] <= SMALL_CONFIG["start_date"]
        assert row["name"] and row["sector"]
    assert len({row["isin"] for row in rows}) == len(rows)
    assert len({row["sector"] for row in rows}) > 5
