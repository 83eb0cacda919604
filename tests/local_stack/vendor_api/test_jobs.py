"""Polled ETL jobs: queued -> running -> succeeded by wall clock, results, failures, restarts."""

from __future__ import annotations

import csv
import io
import time
from collections import defaultdict
from typing import Any

import pytest

from tests.local_stack.vendor_api.helpers import SMALL_CONFIG, StartVendor, VendorClient

REQUEST = {"kind": "index_constituents", "params": {"as_of": "2024-02-15"}}


def poll_until_done(vendor: VendorClient, job_id: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = vendor.get(f"/v1/jobs/{job_id}").json()
        seen.append(status)
        if status["status"] in ("succeeded", "failed"):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {seen[-1]}")


def test_job_lifecycle_and_result(vendor: VendorClient) -> None:
    created = vendor.post("/v1/jobs", REQUEST)
    assert created.status == 202
    job_id = created.json()["job_id"]
    assert created.json()["status"] == "queued"

    seen = poll_until_done(vendor, job_id)
    statuses = [s["status"] for s in seen]
    assert statuses[0] == "queued" and "running" in statuses and statuses[-1] == "succeeded"
    order = {"queued": 0, "running": 1, "succeeded": 2}
    assert [order[s] for s in statuses] == sorted(order[s] for s in statuses)
    progress = [s["progress"] for s in seen]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert seen[-1]["result_url"] == f"/v1/jobs/{job_id}/result"

    result = vendor.get(seen[-1]["result_url"])
    assert result.status == 200 and result.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(result.text)))
    assert rows and list(rows[0]) == ["as_of", "index_code", "symbol", "weight"]
    assert {row["as_of"] for row in rows} == {"2024-02-15"}, "a Thursday: the business day asked"
    weights: dict[str, float] = defaultdict(float)
    for row in rows:
        weights[row["index_code"]] += float(row["weight"])
    assert set(weights) == {"BTN-US50", "BTN-EU30", "BTN-JP25", "BTN-GL100"}
    assert all(total == pytest.approx(1.0, abs=1e-6) for total in weights.values())
    assert vendor.get(seen[-1]["result_url"]).body == result.body


def test_result_before_success_is_409_and_unknown_jobs_are_404(vendor: VendorClient) -> None:
    vendor.admin("/admin/config", {"job_seconds": 60})
    job_id = vendor.post("/v1/jobs", REQUEST).json()["job_id"]
    early = vendor.get(f"/v1/jobs/{job_id}/result")
    assert early.status == 409 and "queued" in early.json()["error"]
    for unknown in ("0123456789abcdef0123456789abcdef", "../../etc/passwd", "nope"):
        result = vendor.get(f"/v1/jobs/{unknown}")
        assert result.status == 404 and "error" in result.json()
    assert vendor.get("/v1/jobs/0123456789abcdef0123456789abcdef/result").status == 404


def test_a_job_for_an_unpublished_day_fails(vendor: VendorClient) -> None:
    job_id = vendor.post("/v1/jobs", {"kind": "index_constituents", "params": {"as_of": "2024-03-04"}}).json()["job_id"]
    final = poll_until_done(vendor, job_id)[-1]
    assert final["status"] == "failed" and "2024-03-04" in final["error"] and "result_url" not in final
    assert vendor.get(f"/v1/jobs/{job_id}/result").status == 409


def test_jobs_survive_a_restart(start_vendor: StartVendor) -> None:
    first = start_vendor({**SMALL_CONFIG, "job_seconds": 0.5})
    job_id = first.client.post("/v1/jobs", REQUEST).json()["job_id"]
    assert first.stop() == 0
    time.sleep(0.5)
    second = start_vendor({**SMALL_CONFIG, "job_seconds": 60}, state_dir=first.state_dir)
    status = second.client.get(f"/v1/jobs/{job_id}").json()
    assert status["status"] == "succeeded"
    assert second.client.get(status["result_url"]).status == 200
