"""Malformed or out-of-range parameters are 400s whose message names the parameter."""

from __future__ import annotations

from typing import Any

import pytest

from tests.local_stack.vendor_api.helpers import VendorClient

DAY = {"from": "2024-01-02", "to": "2024-01-31"}

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("/v1/prices", {"to": "2024-01-31"}, "from"),
    ("/v1/prices", {"from": "2024-01-32", "to": "2024-02-01"}, "from"),
    ("/v1/prices", {"from": "2024-01-02", "to": "yesterday"}, "to"),
    ("/v1/prices", {"from": "2024-02-01", "to": "2024-01-01"}, "from"),
    ("/v1/prices", {**DAY, "limit": 0}, "limit"),
    ("/v1/prices", {**DAY, "limit": 50001}, "limit"),
    ("/v1/prices", {**DAY, "offset": -1}, "offset"),
    ("/v1/prices", {**DAY, "offset": "ten"}, "offset"),
    ("/v1/prices", {**DAY, "symbol_from": "SYM00009", "symbol_to": "SYM00002"}, "symbol_from"),
    ("/v1/fx", {**DAY, "next_token": "bm9wZQ"}, "next_token"),
    ("/v1/fx", {**DAY, "limit": 10001}, "limit"),
    ("/v1/fx", {"from": "2024-01-02"}, "to"),
    ("/v1/intraday", {}, "date"),
    ("/v1/intraday", {"date": "2024-02-30"}, "date"),
    ("/v1/intraday", {"date": "2024-02-28", "after": -5}, "after"),
    ("/v1/intraday", {"date": "2024-02-28", "limit": 0}, "limit"),
    ("/v1/instruments.xml", {"page": 0}, "page"),
    ("/v1/instruments.xml", {"page_size": 5001}, "page_size"),
]


@pytest.mark.parametrize(("path", "params", "parameter"), CASES)
def test_bad_parameters_are_400(vendor: VendorClient, path: str, params: dict[str, Any], parameter: str) -> None:
    result = vendor.get(path, **params)
    assert result.status == 400, result.text
    assert result.json()["error"].startswith(parameter), result.json()


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"kind": "export_everything", "params": {"as_of": "2024-01-02"}}, "kind"),
        ({"kind": "index_constituents"}, "params"),
        ({"kind": "index_constituents", "params": {"as_of": "02/01/2024"}}, "params.as_of"),
        ([1, 2], "body"),
    ],
)
def test_bad_job_requests_are_400(vendor: VendorClient, body: Any, parameter: str) -> None:
    result = vendor.post("/v1/jobs", body)
    assert result.status == 400 and result.json()["error"].startswith(parameter), result.text


def test_wrong_method_and_unknown_path(vendor: VendorClient) -> None:
    assert vendor.request("DELETE", "/admin/knobs").status == 405
    assert vendor.request("GET", "/admin/nothing").status == 404
    assert vendor.get("/v1/nothing").status == 404
