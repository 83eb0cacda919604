"""Two servers with the same seed serve the same bytes; another seed serves other data."""

from __future__ import annotations

from tests.local_stack.vendor_api.helpers import SMALL_CONFIG, StartVendor, VendorClient

REQUESTS = [
    ("/v1/instruments.xml", {"page_size": 5000}),
    ("/v1/prices", {"from": "2024-01-01", "to": "2024-12-31", "limit": 50000}),
    ("/v1/prices", {"from": "2024-01-01", "to": "2024-12-31", "offset": 777, "limit": 13}),
    ("/v1/fx", {"from": "2024-01-01", "to": "2024-12-31", "limit": 10000}),
    ("/v1/intraday", {"date": "2024-02-28", "limit": 10000}),
    ("/v1/feeds/corporate_actions/2024-02-28.csv", {}),
]


def fetch_all(client: VendorClient) -> list[bytes]:
    bodies = []
    for path, params in REQUESTS:
        result = client.get(path, **params)
        assert result.status == 200, (path, result.text)
        bodies.append(result.body)
    return bodies


def test_same_seed_same_bytes(vendor: VendorClient, start_vendor: StartVendor) -> None:
    other = start_vendor(SMALL_CONFIG)
    assert fetch_all(vendor) == fetch_all(other.client)


def test_another_seed_other_data(vendor: VendorClient) -> None:
    seven = fetch_all(vendor)
    vendor.admin("/admin/config", {"seed": 8})
    eight = fetch_all(vendor)
    assert seven[1] != eight[1] and seven[3] != eight[3] and seven[4] != eight[4]
    vendor.admin("/admin/config", {"seed": 7})
    assert fetch_all(vendor) == seven
