"""The vendor clock: data published after `now` is hidden, and advancing it reveals only new rows."""

from __future__ import annotations

from typing import Any

from tests.local_stack.vendor_api.helpers import SMALL_CONFIG, VendorClient

RANGE = {"from": "2024-01-01", "to": "2024-12-31"}


def prices(vendor: VendorClient, offset: int = 0, limit: int = 50000) -> dict[str, Any]:
    result = vendor.get("/v1/prices", offset=offset, limit=limit, **RANGE)
    assert result.status == 200
    return result.json()


def test_future_days_are_not_served(vendor: VendorClient) -> None:
    page = prices(vendor)
    assert max(row["date"] for row in page["data"]) == "2024-02-29"
    assert vendor.get("/v1/prices", **{"from": "2024-03-01", "to": "2024-03-31"}).json()["total"] == 0
    assert vendor.get("/v1/feeds/corporate_actions/2024-03-04.csv").status == 404
    assert vendor.get("/v1/feeds/corporate_actions/2024-03-01.csv").status == 200


def test_advancing_the_clock_appends_only_new_rows(vendor: VendorClient) -> None:
    before = prices(vendor)
    fx_before = vendor.get("/v1/fx", limit=10000, **RANGE).json()["data"]

    vendor.admin("/admin/config", {"now": "2024-03-06T09:00:00Z"})
    after = prices(vendor)
    assert after["total"] == before["total"] + 3 * SMALL_CONFIG["instruments"]  # 1, 4 and 5 March
    assert after["data"][: before["total"]] == before["data"]

    resumed = prices(vendor, offset=before["total"])["data"]
    assert len(resumed) == 3 * SMALL_CONFIG["instruments"]
    assert {row["date"] for row in resumed} == {"2024-03-01", "2024-03-04", "2024-03-05"}

    fx_after = vendor.get("/v1/fx", limit=10000, **RANGE).json()["data"]
    assert fx_after[: len(fx_before)] == fx_before and len(fx_after) == len(fx_before) + 3 * 20
    assert vendor.get("/v1/feeds/corporate_actions/2024-03-04.csv").status == 200


def test_the_clock_defaults_to_real_time(vendor: VendorClient) -> None:
    config = vendor.admin("/admin/config", {"now": None, "start_date": "2024-01-01"})
    assert config["now"] is None
    page = vendor.get("/v1/prices", limit=1, **{"from": "2024-01-01", "to": "2099-12-31"}).json()
    assert page["total"] > 44 * SMALL_CONFIG["instruments"]
