"""Corporate-action feed files over HTTP, and their delivery into S3 (moto, in-process)."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.local_stack.vendor_api.helpers import SMALL_CONFIG, StartVendor, VendorClient, free_port

COLUMNS = ["action_id", "symbol", "ex_date", "action_type", "ratio", "amount", "currency"]
BIG = {"instruments": 3000, "start_date": "2023-01-02", "now": "2024-01-01T00:00:00Z"}


def busy_day(vendor: VendorClient) -> str:
    """A day of 2023 whose feed lists both a split and a dividend."""
    for day in range(1, 29):
        for month in range(1, 13):
            text = vendor.get(f"/v1/feeds/corporate_actions/2023-{month:02d}-{day:02d}.csv").text
            if ",split," in text and ",dividend," in text:
                return f"2023-{month:02d}-{day:02d}"
    raise AssertionError("no day with both kinds of action")


def test_csv_and_xml_feeds_agree(vendor: VendorClient) -> None:
    vendor.admin("/admin/config", BIG)
    day = busy_day(vendor)
    csv_result = vendor.get(f"/v1/feeds/corporate_actions/{day}.csv")
    assert csv_result.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(csv_result.text))
    assert reader.fieldnames == COLUMNS
    rows = list(reader)
    xml_result = vendor.get(f"/v1/feeds/corporate_actions/{day}.xml")
    root = ET.fromstring(xml_result.body)
    assert root.tag == "corporate_actions" and root.get("date") == day
    from_xml = [{child.tag: child.text or "" for child in action} for action in root.findall("action")]
    assert from_xml == rows
    for row in rows:
        assert row["ex_date"] == day
        if row["action_type"] == "split":
            assert float(row["ratio"]) in {2.0, 3.0, 1.5} and row["amount"] == ""
        else:
            assert row["action_type"] == "dividend" and float(row["amount"]) > 0 and row["ratio"] == ""
    assert len({row["action_id"] for row in rows}) == len(rows)


def test_feed_days_without_a_file(vendor: VendorClient) -> None:
    assert vendor.get("/v1/feeds/corporate_actions/2024-01-06.csv").status == 404  # a Saturday
    assert vendor.get("/v1/feeds/corporate_actions/2024-03-04.xml").status == 404  # after the clock
    assert vendor.get("/v1/feeds/corporate_actions/2023-12-29.csv").status == 404  # before the history
    assert vendor.get("/v1/feeds/corporate_actions/2024-13-01.csv").status == 400
    assert vendor.get("/v1/feeds/corporate_actions/2024-01-02.json").status == 404


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_feed_drop_writes_one_file_per_business_day_into_s3(
    start_vendor: StartVendor, moto_endpoint: str, tmp_path: Path
) -> None:
    credentials = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket="landing")
    server = start_vendor(SMALL_CONFIG, env=credentials)
    request = {"bucket": "landing", "prefix": "landing/corporate_actions/", "from": "2024-02-23", "to": "2024-03-05"}
    result = server.client.request("POST", "/admin/feeds/drop", body={**request, "format": "xml"})
    assert result.status == 200, result.text
    answer = result.json()
    expected_days = ["2024-02-23", "2024-02-26", "2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01"]
    assert answer["keys"] == [f"landing/corporate_actions/{day}.xml" for day in expected_days]
    assert answer["skipped"] == ["2024-03-04", "2024-03-05"]
    listed = s3.list_objects_v2(Bucket="landing", Prefix="landing/corporate_actions/")
    assert sorted(item["Key"] for item in listed["Contents"]) == answer["keys"]
    body = s3.get_object(Bucket="landing", Key=answer["keys"][0])["Body"].read()
    assert body == server.client.get("/v1/feeds/corporate_actions/2024-02-23.xml").body

    csv_drop = server.client.request("POST", "/admin/feeds/drop", body={**request, "format": "csv"}).json()
    assert csv_drop["keys"][0].endswith("2024-02-23.csv")
    missing = server.client.request("POST", "/admin/feeds/drop", body={**request, "bucket": "no-such-bucket"})
    assert missing.status == 502 and "no-such-bucket" in missing.json()["error"]
    bad = server.client.request("POST", "/admin/feeds/drop", body={**request, "format": "json"})
    assert bad.status == 400 and "format" in bad.json()["error"]
