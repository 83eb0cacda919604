"""dlt's `rest_api` source reading the same price pages as Baton, written as Parquet to the same local S3.

Runs in dlt's own virtual environment (`bench/e2e.py` builds it: dlt's S3 extra pins a botocore
older than moto's), so it imports nothing of Baton. Prints one JSON line: rows, each phase's
seconds and the process's peak RSS.

    python bench/dlt_prices.py --vendor URL --api-key KEY --from D --to D --page N --bucket B --endpoint URL
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time

import dlt
from dlt.sources.rest_api import rest_api_source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("vendor", "api-key", "from", "to", "bucket", "endpoint"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--page", type=int, required=True)
    args = parser.parse_args()
    source = rest_api_source(
        {
            "client": {
                "base_url": args.vendor,
                "auth": {"type": "api_key", "name": "X-Api-Key", "api_key": args.api_key, "location": "header"},
                "paginator": {
                    "type": "offset",
                    "limit": args.page,
                    "offset_param": "offset",
                    "limit_param": "limit",
                    "total_path": "total",
                },
            },
            "resources": [
                {
                    "name": "prices",
                    "endpoint": {
                        "path": "v1/prices",
                        "params": {"from": getattr(args, "from"), "to": args.to},
                        "data_selector": "data",
                    },
                }
            ],
        }
    )
    destination = dlt.destinations.filesystem(
        bucket_url=f"s3://{args.bucket}/dlt",
        credentials={
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
            "endpoint_url": args.endpoint,
            "region_name": "us-east-1",
        },
    )
    with tempfile.TemporaryDirectory() as pipelines:
        pipeline = dlt.pipeline(
            pipeline_name="bench_prices", destination=destination, dataset_name="prices", pipelines_dir=pipelines
        )
        started = time.perf_counter()
        pipeline.extract(source, loader_file_format="parquet")
        extracted = time.perf_counter()
        normalized_info = pipeline.normalize()
        normalized = time.perf_counter()
        pipeline.load()
        loaded = time.perf_counter()
    rows = normalized_info.row_counts.get("prices", 0)
    print(
        json.dumps(
            {
                "rows": rows,
                "extract_s": round(extracted - started, 2),
                "normalize_s": round(normalized - extracted, 2),
                "load_s": round(loaded - normalized, 2),
                "total_s": round(loaded - started, 2),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
