"""What one materialisation of a small partition costs beyond the chain itself, and where it goes.

On a local stack of its own: the instruments lineage once (prices shard by it), then the prices
lineage (raw -> lake -> warehouse) for `--partitions` weekdays of 3,000 rows each, in process as
the demo runs them, under cProfile. For each run it prints the wall time, each step's time from
Dagster's event log and the chain's own duration (the raw asset's metadata); then the calls that
the runs repeat: boto3 clients created, AWS API calls, Snowflake connections, definitions loaded.

A scheduled or backfilled run does not run in a warm process: the run launcher starts a run
worker per run (a subprocess, or an ECS task), which imports the code location before its first
step. So `--fresh` more weekdays each run in a fresh interpreter of their own, timed from its
start to its exit, with the import of the code location and the run timed inside it.

    .venv/bin/python bench/dagster_overhead.py [--partitions 5] [--fresh 2] [--top 25]

The last line is JSON: partitions, mean seconds per partition, mean chain seconds, the rest
(Dagster and the platform around the chain), the counted calls per partition, and the fresh
processes' mean seconds per partition, of which the code location's import and the run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import subprocess
import sys
import time
from typing import Any

COUNTED = {
    "boto3 clients created": ("botocore/session.py", "create_client"),
    "AWS API calls": ("botocore/client.py", "_make_api_call"),
    "Snowflake connections": ("snowflake/connector/connection.py", "connect"),
    "definitions loaded": ("dagster/_core/definitions/definitions_class.py", "__init__"),
}


RUN_WORKER = """
import sys, time
started = time.perf_counter()
import dagster as dg
from platform_defs.automation.jobs import lineage_job
from platform_defs.definitions import defs
imported = time.perf_counter()
quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
job = defs.resolve_job_def(lineage_job("prices").name)
job.execute_in_process(instance=dg.DagsterInstance.get(), partition_key=sys.argv[1], run_config=quiet)
print(imported - started, time.perf_counter() - imported)
"""
"""What a run worker does for one partition: import the code location, then run the lineage in process."""


def counted_calls(stats: pstats.Stats) -> dict[str, int]:
    found = dict.fromkeys(COUNTED, 0)
    for (filename, _, name), (calls, *_rest) in stats.stats.items():  # type: ignore[attr-defined]
        for label, (file_end, function) in COUNTED.items():
            if filename.endswith(file_end) and name == function:
                found[label] += calls
    return found


def step_seconds(result: Any) -> dict[str, float]:
    """Each step's own time, as Dagster recorded it on the step's success."""
    return {
        event.step_key: event.event_specific_data.duration_ms / 1000
        for event in result.all_events
        if event.event_type_value == "STEP_SUCCESS"
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=5)
    parser.add_argument("--fresh", type=int, default=2, help="partitions run in a fresh process each, as a run worker")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    from bench_stack import temporary_stack

    with temporary_stack():
        summary = profile(args.partitions, args.fresh, args.top)
    print(json.dumps(summary))


def fresh_process(day: str) -> tuple[float, float, float]:
    """Seconds of a run worker's whole process for `day`, of its import of the code location, and of its run."""
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", RUN_WORKER, day], capture_output=True, text=True, check=True).stdout
    imported, ran = (float(value) for value in out.split())
    return time.perf_counter() - started, imported, ran


def profile(partitions: int, fresh: int, top: int) -> dict[str, Any]:
    import dagster as dg

    from platform_defs.automation.jobs import lineage_job
    from platform_defs.chain_clients import lambda_client
    from platform_defs.datasets import DATASETS
    from platform_defs.definitions import defs
    from platform_defs.deploy import deploy_chain_function
    from platform_defs.settings import load_settings

    settings = load_settings()
    deploy_chain_function(lambda_client(settings.aws), settings.chains.function_name, settings.chains.role_arn)
    instance = dg.DagsterInstance.get()
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    defs.resolve_job_def(lineage_job("instruments").name).execute_in_process(instance=instance, run_config=quiet)
    prices = DATASETS["prices"].partitions
    assert prices is not None
    keys = prices.get_partition_keys()
    days = keys[-(partitions + 1) :]
    fresh_days = keys[-(partitions + 1 + fresh) : -(partitions + 1)] if fresh else []
    job = defs.resolve_job_def(lineage_job("prices").name)
    job.execute_in_process(instance=instance, partition_key=days[0], run_config=quiet)  # warm: imports, clients
    profiler = cProfile.Profile()
    walls, chains = [], []
    print(f"{'partition':<12}{'wall s':>8}{'chain s':>9}  steps (s)")
    for day in days[1:]:
        started = time.perf_counter()
        profiler.enable()
        result = job.execute_in_process(instance=instance, partition_key=day, run_config=quiet)
        profiler.disable()
        wall = time.perf_counter() - started
        raw = result.asset_materializations_for_node("raw__prices")[0].metadata
        chain = float(raw["duration_s"].value)
        walls.append(wall)
        chains.append(chain)
        steps = ", ".join(f"{k} {v:.2f}" for k, v in step_seconds(result).items())
        print(f"{day:<12}{wall:>8.2f}{chain:>9.2f}  {steps}")
    stats = pstats.Stats(profiler)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(top)
    print(text.getvalue())
    calls = {label: count / len(walls) for label, count in counted_calls(stats).items()}
    mean_wall, mean_chain = sum(walls) / len(walls), sum(chains) / len(chains)
    summary: dict[str, Any] = {
        "partitions": len(walls),
        "seconds_per_partition": round(mean_wall, 3),
        "chain_seconds": round(mean_chain, 3),
        "beyond_the_chain_seconds": round(mean_wall - mean_chain, 3),
        "per_partition": calls,
    }
    if fresh_days:
        print(f"{'partition':<12}{'process s':>10}{'import s':>10}{'run s':>8}  (a fresh process each)")
        workers = []
        for day in fresh_days:
            workers.append(fresh_process(day))
            process, imported, ran = workers[-1]
            print(f"{day:<12}{process:>10.2f}{imported:>10.2f}{ran:>8.2f}")
        process, imported, ran = (sum(column) / len(workers) for column in zip(*workers, strict=True))
        summary["fresh_process"] = {
            "partitions": len(workers),
            "seconds_per_partition": round(process, 3),
            "code_location_import_seconds": round(imported, 3),
            "run_seconds": round(ran, 3),
        }
    return summary


if __name__ == "__main__":
    main()
