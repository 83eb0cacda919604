"""Fault knobs: latency, errors, 429 bursts and truncated bodies, deterministic from fail_seed."""

from __future__ import annotations

import http.client
import time

import pytest

from tests.local_stack.vendor_api.helpers import API_KEY, VendorClient

PRICES = "/v1/prices?from=2024-01-01&to=2024-01-31&limit=200"


def statuses(vendor: VendorClient, count: int) -> list[int]:
    return [vendor.request("GET", PRICES, key=API_KEY).status for _ in range(count)]


def test_latency_is_added_to_v1_requests_only(vendor: VendorClient) -> None:
    vendor.admin("/admin/knobs", {"latency_ms": 300})
    started = time.perf_counter()
    assert vendor.request("GET", PRICES, key=API_KEY).status == 200
    assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    assert vendor.request("GET", "/health").status == 200
    assert time.perf_counter() - started < 0.2


def test_error_rate_is_deterministic_from_fail_seed(vendor: VendorClient) -> None:
    vendor.admin("/admin/knobs", {"error_rate": 0.5, "fail_seed": 42})
    first = statuses(vendor, 24)
    assert set(first) == {200, 500, 503}
    vendor.admin("/admin/reset", {})
    vendor.admin("/admin/knobs", {"error_rate": 0.5, "fail_seed": 42})
    assert statuses(vendor, 24) == first
    vendor.admin("/admin/reset", {})
    vendor.admin("/admin/knobs", {"error_rate": 0.5, "fail_seed": 43})
    assert statuses(vendor, 24) != first
    vendor.admin("/admin/knobs", {"error_rate": 1.0})
    failed = vendor.request("GET", PRICES, key=API_KEY)
    assert failed.status in (500, 503) and "error" in failed.json()


def test_burst_429_with_retry_after(vendor: VendorClient) -> None:
    vendor.admin("/admin/knobs", {"burst_429": 2, "retry_after_s": 3})
    for _ in range(2):
        limited = vendor.request("GET", PRICES, key=API_KEY)
        assert limited.status == 429 and limited.headers["retry-after"] == "3"
    assert vendor.request("GET", PRICES, key=API_KEY).status == 200
    assert vendor.admin("/admin/knobs")["burst_429_remaining"] == 0


def test_truncated_bodies_announce_the_full_length(vendor: VendorClient) -> None:
    vendor.admin("/admin/knobs", {"truncate_rate": 1.0})
    connection = http.client.HTTPConnection(vendor.host, vendor.port, timeout=10)
    try:
        connection.request("GET", PRICES, headers={"X-Api-Key": API_KEY})
        response = connection.getresponse()
        announced = int(response.getheader("Content-Length"))
        with pytest.raises(http.client.IncompleteRead) as caught:
            response.read()
    finally:
        connection.close()
    assert 0 < len(caught.value.partial) < announced
    assert vendor.admin("/admin/stats")["faults"]["truncated"] == 1


def test_stats_count_requests_per_endpoint_and_reset_clears_them(vendor: VendorClient) -> None:
    vendor.get("/v1/prices", **{"from": "2024-01-02", "to": "2024-01-02"})
    vendor.get("/v1/prices", **{"from": "2024-01-02", "to": "2024-01-02"})
    vendor.get("/v1/fx", **{"from": "2024-01-02", "to": "2024-01-02"})
    vendor.request("GET", "/v1/instruments.xml")
    stats = vendor.admin("/admin/stats")
    assert stats["requests"] == {"prices": 2, "fx": 1, "instruments": 1}
    assert stats["total"] == 4 and stats["statuses"] == {"200": 3, "401": 1}
    vendor.admin("/admin/reset", {})
    assert vendor.admin("/admin/stats")["total"] == 0


def test_knob_validation(vendor: VendorClient) -> None:
    for body in ({"error_rate": 2}, {"latency_ms": -1}, {"nonsense": 1}, {"burst_429": 1.5}, {"fail_seed": "x"}):
        result = vendor.request("POST", "/admin/knobs", body=body)
        assert result.status == 400, body
    knobs = vendor.admin("/admin/knobs", {"error_rate": 0.25})
    assert knobs["error_rate"] == 0.25
    vendor.admin("/admin/reset", {})
    assert vendor.admin("/admin/knobs")["error_rate"] == 0.0
