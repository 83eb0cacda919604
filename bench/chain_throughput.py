"""Chain throughput and link memory, measured side by side in one run.

The same extraction (daily prices from the local vendor API into the raw zone) is done by the
worker's own code in one in-process loop and as a driven chain through the local Lambda service
with `--links` second links, alternately, `--repeat` times: on a machine whose two cores also
run the vendor and S3, one pair's ratio swings by 15 % either way, so the median of the pairs is
the figure. Then as a chain with 60 s links. Then a link's peak RSS is compared between a small
and a large extraction: pages stream to S3, so it must stay flat.

    .venv/bin/python bench/chain_throughput.py [--rows 2000000] [--links 10] [--repeat 3]
        [--small 1000000] [--large 10000000] [--page 5000]

Targets: chain throughput >= 0.95 x in-process with 10 s links; a link's peak RSS within 10 %
from the small to the large run, and under 256 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import boto3
from bench_stack import temporary_stack

from lambda_workers.handler import lambda_handler
from local_stack.stack import VENDOR_SECRET_PARAMETER
from platform_defs.chain_clients import lambda_client
from platform_defs.datasets import DATASETS, VendorEndpoint
from platform_defs.deploy import deploy_chain_function
from platform_defs.settings import load_settings

INSTRUMENTS = 5000


@dataclass
class Run:
    label: str
    rows: int
    seconds: float
    links: int
    peak_rss_mb: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


class BenchContext:
    """An in-process context with a deadline far away: the loop never stops for time."""

    aws_request_id = "bench"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"

    def get_remaining_time_in_millis(self) -> int:
        return 3_600_000


def date_range_for(rows: int) -> tuple[str, str]:
    """A range of business days holding about `rows` price rows."""
    days = max(1, rows // INSTRUMENTS)
    start = date(2015, 1, 1)
    end, counted = start, 0
    while counted < days:
        if end.weekday() < 5:
            counted += 1
        end += timedelta(days=1)
    return start.isoformat(), (end - timedelta(days=1)).isoformat()


def event(vendor: str, bucket: str, rows: int, page: int) -> dict[str, Any]:
    dataset = DATASETS["prices"]
    first, last = date_range_for(rows)
    source = dataset.source_config(VendorEndpoint(vendor, VENDOR_SECRET_PARAMETER), bucket, first, page)
    source["params"] = {"from": first, "to": last}
    return {
        "version": 1,
        "action": "start",
        "deployment": f"bench{uuid.uuid4().hex[:6]}",
        "mode": "driven",
        "max_links": 10_000,
        "chain": {"asset": "prices", "partition": first},
        "source": source,
        "sink": {"bucket": bucket, "prefix": f"raw/bench/{uuid.uuid4().hex[:6]}"},
        "quarantine_prefix": "quarantine/bench",
        "validation": dataset.validation,
    }


def in_process(vendor: str, bucket: str, rows: int, page: int) -> Run:
    start = time.perf_counter()
    result = lambda_handler(event(vendor, bucket, rows, page), BenchContext())
    return Run("in-process loop", result["rows"], time.perf_counter() - start, 1, result["max_rss_mb"])


def chain(vendor: str, bucket: str, rows: int, page: int, link_seconds: int) -> Run:
    settings = load_settings()
    client = lambda_client(settings.aws)
    name = f"bench-{link_seconds}s"
    deploy_chain_function(client, name, settings.chains.role_arn, timeout=link_seconds, memory_mb=1024)
    current = event(vendor, bucket, rows, page)
    start = time.perf_counter()
    links, killed, peak = 0, 0, 0.0
    while True:
        response = client.invoke(FunctionName=name, Payload=json.dumps(current).encode())
        result = json.loads(response["Payload"].read())
        if "FunctionError" in response:
            killed += 1  # killed at the deadline: the same link runs again, as Dagster does
            continue
        links += 1
        peak = max(peak, result["max_rss_mb"])
        if result["status"] != "running":
            break
        current = {**current, "action": "continue", "chain_id": result["chain_id"], "link": result["link"] + 1}
    label = f"chain, {link_seconds} s links" + (f" ({killed} killed)" if killed else "")
    return Run(label, result["rows"], time.perf_counter() - start, links, peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--small", type=int, default=1_000_000)
    parser.add_argument("--large", type=int, default=10_000_000)
    parser.add_argument("--page", type=int, default=5_000, help="rows per vendor page (small against a 5 s link)")
    parser.add_argument("--links", type=int, default=10, help="seconds per link of the alternating chains")
    parser.add_argument("--repeat", type=int, default=3, help="in-process and chain runs, alternately")
    args = parser.parse_args()
    with temporary_stack(INSTRUMENTS):
        vendor = os.environ["BATON_VENDOR_MARKETS_BASE_URL"]
        bucket = "bench-lake"
        boto3.client("s3").create_bucket(Bucket=bucket)
        pairs = [
            (in_process(vendor, bucket, args.rows, args.page), chain(vendor, bucket, args.rows, args.page, args.links))
            for _ in range(args.repeat)
        ]
        runs = [run for pair in pairs for run in pair] + [chain(vendor, bucket, args.rows, args.page, 60)]
        baseline = statistics.median(p.rows_per_second for p, _ in pairs)
        print(f"\nthroughput, {args.rows:,} price rows, {args.page:,}-row pages")
        print(f"{'run':<34}{'rows':>12}{'seconds':>10}{'links':>7}{'rows/s':>12}{'vs median':>10}")
        for run in runs:
            print(
                f"{run.label:<34}{run.rows:>12,}{run.seconds:>10.1f}{run.links:>7}"
                f"{run.rows_per_second:>12,.0f}{run.rows_per_second / baseline:>10.3f}"
            )
        ratios = [c.rows_per_second / p.rows_per_second for p, c in pairs]
        median = statistics.median(ratios)
        print(f"chain / in process, {args.links} s links, pair by pair: {', '.join(f'{r:.3f}' for r in ratios)}")
        print(f"median {median:.3f}")
        small = chain(vendor, bucket, args.small, args.page, 60)
        large = chain(vendor, bucket, args.large, args.page, 60)
        print(
            f"\npeak RSS of a link (60 s links): {args.small:,} rows {small.peak_rss_mb:.1f} MB, "
            f"{args.large:,} rows {large.peak_rss_mb:.1f} MB, ratio {large.peak_rss_mb / small.peak_rss_mb:.3f}"
        )
        summary = {"chain_vs_inprocess_median": round(median, 3), "pairs": [round(r, 3) for r in ratios]}
        summary |= {"link_peak_rss_mb_small": small.peak_rss_mb, "link_peak_rss_mb_large": large.peak_rss_mb}
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
