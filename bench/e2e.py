"""End to end, side by side: Baton and dlt from the same vendor API, the same rows, the same machine, one run.

For each size, on one local stack started for the run:

- Baton's worker in process (extraction into the raw zone), then the lake step (raw to typed
  Parquet) and the warehouse load (COPY INTO Snowflake RAW), each in a process of its own so
  that each reports its own peak RSS;
- Baton's worker as a driven chain through the local Lambda service, with 10 s and 60 s links;
- dlt's `rest_api` source writing Parquet to the same local S3, in dlt's own virtual
  environment (`bench/.venv-dlt`, built on first use: dlt's S3 extra pins a botocore older
  than moto's, so it cannot share the project's).

    .venv/bin/python bench/e2e.py [--sizes 1000000 10000000] [--page 5000]

The last line printed is JSON: rows (the largest size), Baton's end-to-end rows/s and dlt's,
their ratio, the 10 s chain against in-process extraction, and the lake step's peak RSS at
each size. Targets: end to end >= 3 x dlt; extraction >= 200k rows/s in process; the chain
>= 0.95 x in process with 10 s links; the lake step <= 300 MB at 1 M rows and within 10 % of
that at 10 M; a link under 256 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
from bench_stack import temporary_stack
from chain_throughput import INSTRUMENTS, BenchContext, chain, date_range_for, event

BENCH = Path(__file__).resolve().parent
DLT_VENV = BENCH / ".venv-dlt"
DLT_REQUIREMENT = "dlt[s3,parquet]==1.31.*"
BUCKET = "bench-lake"


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def phase_extract(spec: dict[str, Any]) -> dict[str, Any]:
    from lambda_workers.handler import lambda_handler

    link_event = event(spec["vendor"], BUCKET, spec["rows"], spec["page"])
    link_event["sink"]["prefix"] = spec["raw_prefix"]
    started = time.perf_counter()
    result = lambda_handler(link_event, BenchContext())
    seconds = time.perf_counter() - started
    return {"rows": result["rows"], "seconds": seconds, "status": result["status"], "peak_rss_mb": peak_rss_mb()}


def phase_lake(spec: dict[str, Any]) -> dict[str, Any]:
    from platform_defs.datasets import DATASETS
    from platform_defs.lake import build_lake_partition

    s3 = boto3.client("s3")
    started = time.perf_counter()
    build = build_lake_partition(s3, BUCKET, DATASETS["prices"], spec["raw_prefix"], spec["partition"])
    seconds = time.perf_counter() - started
    accounted = build.lake_rows + build.quarantined + build.rejected + build.duplicates
    return {
        "rows": build.raw_rows,
        "lake_rows": build.lake_rows,
        "accounted": accounted == build.raw_rows,
        "files": list(build.files),
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
    }


def phase_warehouse(spec: dict[str, Any]) -> dict[str, Any]:
    import dagster as dg

    from platform_defs.datasets import DATASETS
    from platform_defs.resources import build_resources
    from platform_defs.settings import load_settings
    from platform_defs.warehouse import ensure_stage, ensure_table, load_partition

    dataset = DATASETS["prices"]
    snowflake = build_resources(load_settings())["snowflake"]
    with dg.build_resources({"snowflake": snowflake}) as resources, resources.snowflake.get_connection() as conn:
        with conn.cursor() as cur:
            ensure_stage(cur, BUCKET, None)
            ensure_table(cur, dataset)
        started = time.perf_counter()
        load = load_partition(conn, dataset, spec["partition"], spec["files"])
        seconds = time.perf_counter() - started
    return {"rows": load.rows_in_partition, "seconds": seconds, "peak_rss_mb": peak_rss_mb()}


PHASES = {"extract": phase_extract, "lake": phase_lake, "warehouse": phase_warehouse}


def run_phase(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """One phase in a child process of its own: its figures, as the last line it printed."""
    command = [sys.executable, str(Path(__file__)), "--phase", name, "--spec", json.dumps(spec)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=3600)
    if done.returncode:
        raise RuntimeError(f"phase {name} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def dlt_python() -> str:
    """dlt's own interpreter, the environment built on first use."""
    python = DLT_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(DLT_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", DLT_REQUIREMENT], check=True)
    return str(python)


def run_dlt(python: str, vendor: str, api_key: str, rows: int, page: int, endpoint: str) -> dict[str, Any]:
    first, last = date_range_for(rows)
    command = [
        python,
        str(BENCH / "dlt_prices.py"),
        *("--vendor", vendor.rstrip("/") + "/", "--api-key", api_key, "--from", first, "--to", last),
        *("--page", str(page), "--bucket", BUCKET, "--endpoint", endpoint),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=7200, env=env)
    if done.returncode:
        raise RuntimeError(f"dlt failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(size: int, page: int, vendor: str, api_key: str, endpoint: str, python: str) -> dict[str, Any]:
    label = f"{size // 1_000_000}m" if size >= 1_000_000 else f"{size // 1000}k"
    spec = {"vendor": vendor, "rows": size, "page": page, "raw_prefix": f"raw/bench/{uuid.uuid4().hex[:8]}"}
    spec["partition"] = f"bench-{label}"
    extract = run_phase("extract", spec)
    lake = run_phase("lake", spec)
    warehouse = run_phase("warehouse", {**spec, "files": lake["files"]})
    chains = {seconds: chain(vendor, BUCKET, size, page, seconds) for seconds in (10, 60)}
    dlt = run_dlt(python, vendor, api_key, size, page, endpoint)
    rows = extract["rows"]
    baton_seconds = extract["seconds"] + lake["seconds"] + warehouse["seconds"]
    return {
        "label": label,
        "rows": rows,
        "lake_rows": lake["lake_rows"],
        "warehouse_rows": warehouse["rows"],
        "accounted": lake["accounted"],
        "extract": {"rows_per_s": rows / extract["seconds"], "peak_rss_mb": extract["peak_rss_mb"]},
        "lake": {"rows_per_s": rows / lake["seconds"], "peak_rss_mb": lake["peak_rss_mb"]},
        "warehouse": {"rows_per_s": rows / warehouse["seconds"], "peak_rss_mb": warehouse["peak_rss_mb"]},
        "baton_e2e_rows_per_s": rows / baton_seconds,
        "chains": {
            f"{seconds}s": {
                "rows_per_s": run.rows_per_second,
                "links": run.links,
                "link_peak_rss_mb": run.peak_rss_mb,
                "vs_inprocess": run.rows_per_second / (rows / extract["seconds"]),
            }
            for seconds, run in chains.items()
        },
        "dlt": {
            "rows": dlt["rows"],
            "rows_per_s": dlt["rows"] / dlt["total_s"],
            "extract_rows_per_s": dlt["rows"] / dlt["extract_s"],
            "normalize_load_rows_per_s": dlt["rows"] / (dlt["normalize_s"] + dlt["load_s"]),
            "peak_rss_mb": dlt["peak_rss_mb"],
        },
    }


def print_table(results: list[dict[str, Any]]) -> None:
    print(f"\n{'rows':>11} {'measure':<44}{'Baton':>12}{'dlt':>12}{'ratio':>8}")
    for r in results:
        dlt = r["dlt"]
        lines = [
            ("extract, in process (rows/s)", r["extract"]["rows_per_s"], dlt["extract_rows_per_s"]),
            ("lake / normalize + load to S3 (rows/s)", r["lake"]["rows_per_s"], dlt["normalize_load_rows_per_s"]),
            ("warehouse COPY INTO RAW (rows/s)", r["warehouse"]["rows_per_s"], None),
            ("end to end (rows/s)", r["baton_e2e_rows_per_s"], dlt["rows_per_s"]),
            ("chain, 10 s links (rows/s)", r["chains"]["10s"]["rows_per_s"], None),
            ("chain, 60 s links (rows/s)", r["chains"]["60s"]["rows_per_s"], None),
            ("peak RSS, extract (MB)", r["extract"]["peak_rss_mb"], dlt["peak_rss_mb"]),
            ("peak RSS, lake step (MB)", r["lake"]["peak_rss_mb"], None),
            ("peak RSS, warehouse load (MB)", r["warehouse"]["peak_rss_mb"], None),
            ("peak RSS, a link (MB)", max(c["link_peak_rss_mb"] for c in r["chains"].values()), None),
        ]
        for name, baton, other in lines:
            ratio = f"{baton / other:>8.2f}" if other else f"{'':>8}"
            other_text = f"{other:>12,.0f}" if other else f"{'':>12}"
            print(f"{r['rows']:>11,} {name:<44}{baton:>12,.0f}{other_text}{ratio}")
        for seconds, c in r["chains"].items():
            name = f"chain / in process, {seconds} links ({c['links']} links)"
            print(f"{r['rows']:>11,} {name:<44}{c['vs_inprocess']:>12.3f}")
        counts = f"rows accounted for: {r['accounted']}, lake {r['lake_rows']:,}, RAW {r['warehouse_rows']:,}"
        print(f"{r['rows']:>11,} {counts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--page", type=int, default=5_000)
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(PHASES[args.phase](json.loads(args.spec))))
        return
    python = dlt_python()
    with temporary_stack(INSTRUMENTS) as stack:
        vendor = os.environ["BATON_VENDOR_MARKETS_BASE_URL"]
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        endpoint = os.environ["AWS_ENDPOINT_URL"]
        key = stack.vendor_api_key()
        results = [measure(size, args.page, vendor, key, endpoint, python) for size in args.sizes]
    print_table(results)
    largest, smallest = results[-1], results[0]
    summary = {
        "rows": largest["rows"],
        "baton_e2e_rows_per_s": round(largest["baton_e2e_rows_per_s"]),
        "dlt_rows_per_s": round(largest["dlt"]["rows_per_s"]),
        "ratio_vs_dlt": round(largest["baton_e2e_rows_per_s"] / largest["dlt"]["rows_per_s"], 2),
        "chain_vs_inprocess": round(largest["chains"]["10s"]["vs_inprocess"], 3),
        "extract_rows_per_s": round(largest["extract"]["rows_per_s"]),
        "link_peak_rss_mb": max(c["link_peak_rss_mb"] for r in results for c in r["chains"].values()),
        f"lake_peak_rss_mb_{smallest['label']}": smallest["lake"]["peak_rss_mb"],
        f"lake_peak_rss_mb_{largest['label']}": largest["lake"]["peak_rss_mb"],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
