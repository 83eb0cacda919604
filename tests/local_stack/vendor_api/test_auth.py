"""Every /v1 endpoint needs the API key, and the key never reaches the service's log."""

from __future__ import annotations

import pytest

from tests.local_stack.vendor_api.helpers import API_KEY, VendorClient, VendorProcess

V1_GETS = [
    "/v1/instruments.xml",
    "/v1/prices?from=2024-01-02&to=2024-01-02",
    "/v1/fx?from=2024-01-02&to=2024-01-02",
    "/v1/intraday?date=2024-01-02",
    "/v1/feeds/corporate_actions/2024-01-02.csv",
    "/v1/jobs/0123456789abcdef0123456789abcdef",
    "/v1/no-such-endpoint",
]


@pytest.mark.parametrize("path", V1_GETS)
@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_v1_without_the_right_key_is_401(vendor: VendorClient, path: str, key: str | None) -> None:
    result = vendor.request("GET", path, key=key)
    assert result.status == 401
    assert result.headers["content-type"] == "application/json"
    assert "key" in result.json()["error"].lower()


def test_post_job_without_key_is_401(vendor: VendorClient) -> None:
    result = vendor.request("POST", "/v1/jobs", body={"kind": "index_constituents", "params": {"as_of": "2024-01-02"}})
    assert result.status == 401


def test_the_key_never_appears_in_the_log(vendor: VendorClient, vendor_process: VendorProcess) -> None:
    leaked_wrong_key = "wrong-key-6d2e90"
    assert vendor.get("/v1/prices", **{"from": "2024-01-02", "to": "2024-01-03"}).status == 200
    assert vendor.request("GET", "/v1/instruments.xml", key=leaked_wrong_key).status == 401
    assert vendor.request("GET", "/v1/instruments.xml", {"api_key": API_KEY}).status == 401
    log = vendor_process.log_once_it_has("/v1/prices", "/v1/instruments.xml?api_key=***")
    assert "/v1/prices" in log and "/v1/instruments.xml?api_key=***" in log
    assert API_KEY not in log
    assert leaked_wrong_key not in log


def test_admin_endpoints_need_no_key(vendor: VendorClient) -> None:
    for path in ("/admin/knobs", "/admin/stats", "/admin/config"):
        assert vendor.request("GET", path).status == 200
