"""The main job on the embedded stack: the whole lineage for recent days, then a business answer.

Runs are recorded in the stack's Dagster instance, so `make dev` shows them afterwards, each under
the name of the job that schedules and sensors launch for the same work. A second run reuses what
is there: a chain whose window is closed calls no API, and reloads replace partitions instead of
adding to them.
"""

from __future__ import annotations

import json
import logging
import sys
import urllib.request
from collections.abc import Sequence
from typing import Any

import dagster as dg

from platform_defs.automation.jobs import SQL_MODELS_JOB, lineage_job
from platform_defs.chain_clients import lambda_client
from platform_defs.datasets import DATASETS
from platform_defs.deploy import deploy_chain_function
from platform_defs.settings import Settings

__all__ = ["run_demo"]

DAYS = 10
TOP_MOVERS_SQL = """
SELECT DIRECTION, MOVE_RANK, SYMBOL, INSTRUMENT_NAME, SECTOR, CLOSE_USD, DAILY_RETURN
FROM ANALYTICS.MART_TOP_MOVERS
WHERE TRADE_DATE = (SELECT MAX(TRADE_DATE) FROM ANALYTICS.MART_TOP_MOVERS)
ORDER BY DIRECTION, MOVE_RANK
"""


def run_demo(defs: dg.Definitions, settings: Settings) -> int:
    resources = defs.resources or {}
    deployed = deploy_chain_function(
        lambda_client(settings.aws), settings.chains.function_name, settings.chains.role_arn
    )
    print(f"deployed {deployed.function_name} ({deployed.zip_bytes} bytes)")
    prices = DATASETS["prices"].partitions
    assert prices is not None
    days = prices.get_partition_keys()[-DAYS:]
    _drop_feed_files(settings.chains.vendors["markets"].base_url, settings.lake_bucket, days[0], days[-1])
    instance = dg.DagsterInstance.get()
    _run(defs, _lineage_jobs("instruments", "corporate_actions"), instance, None, "reference data")
    for day in days:
        _run(defs, _lineage_jobs("prices", "fx_rates"), instance, day, day)
    _run(defs, _lineage_jobs("intraday_prices"), instance, days[-1], f"{days[-1]} bars")
    _run_heavy_chain(defs, instance)
    _run(defs, [SQL_MODELS_JOB.name], instance, None, "SQL models")
    _print_answer(resources["snowflake"])
    print(
        "\nOpen the UI with `make dev` (http://127.0.0.1:3000): Assets > raw > prices_history shows the long"
        " chain's cursor, links, rows and cost link by link; the marts group holds the models above, with"
        " their tests as checks."
    )
    return 0


HEAVY_DATASET = "prices_history"
HEAVY_LINK_SECONDS = 1.0
"""Short links, so the million-row extraction is a relay of dozens of links, as a 15-minute one would be."""


def _run_heavy_chain(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    """One heavy extraction as a real multi-link chain, its per-link progress printed as it goes."""
    name = lineage_job(HEAVY_DATASET).name
    job = defs.resolve_job_def(name).with_logger_defs({"console": dg.colored_console_logger, "progress": _progress})
    print(f"{HEAVY_DATASET}: one chain of {HEAVY_LINK_SECONDS:.0f}-second links (raw -> lake -> warehouse)")
    config = {"link_seconds": HEAVY_LINK_SECONDS, "full_refresh": True}
    result = job.execute_in_process(
        instance=instance,
        run_config={
            "loggers": {"console": {"config": {"log_level": "WARNING"}}, "progress": {}},
            "ops": {f"raw__{HEAVY_DATASET}": {"config": config}},
        },
    )
    raw = result.asset_materializations_for_node(f"raw__{HEAVY_DATASET}")[0].metadata
    warehouse = result.asset_materializations_for_node(f"warehouse__raw__{HEAVY_DATASET}")[0].metadata
    print(
        f"{HEAVY_DATASET:<16} run {result.run_id[:8]}: {raw['links'].value} links, {raw['rows'].value:,} rows,"
        f" ${raw['estimated_cost_usd'].value:.6f} of Lambda; {warehouse['dagster/row_count'].value:,} rows in Snowflake"
    )


@dg.logger
def _progress(_: dg.InitLoggerContext) -> logging.Logger:
    """Prints the chain's per-link lines (percentage and ETA) as the raw step logs them, nothing else."""
    printer = logging.Logger("baton.demo.progress", logging.INFO)
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_link_lines)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    printer.addHandler(handler)
    return printer


def _link_lines(record: logging.LogRecord) -> bool:
    """Only the raw step's link lines, without their cursor: `... link 7: ..., 31% of 1170000, ETA 21 s`."""
    meta = getattr(record, "dagster_meta", {})
    message = str(meta.get("orig_message") or "")
    if not str(meta.get("step_key") or "").startswith("raw__") or "% of" not in message or ", cursor " not in message:
        return False
    progress = message[message.rindex(", ", 0, message.index("% of")) + 2 :]
    record.msg, record.args = f"{message.split(', cursor ')[0]}, {progress}", ()
    return True


def _lineage_jobs(*dataset_names: str) -> list[str]:
    return [lineage_job(name).name for name in dataset_names]


def _run(
    defs: dg.Definitions,
    job_names: Sequence[str],
    instance: dg.DagsterInstance,
    partition: str | None,
    label: str,
) -> None:
    """One run per job, one summary line per step of the demo."""
    run_ids: list[str] = []
    rows: dict[str, Any] = {}
    for job_name in job_names:
        result = defs.resolve_job_def(job_name).execute_in_process(
            instance=instance,
            partition_key=partition,
            # The console shows warnings only, so the summary lines stand out; the UI keeps every event.
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        run_ids.append(result.run_id[:8])
        rows.update(
            (event.asset_key.to_user_string(), event.materialization.metadata.get("dagster/row_count"))
            for event in result.get_asset_materialization_events()
            if event.asset_key and event.asset_key.path[0] in ("warehouse", "analytics")
        )
    loaded = ", ".join(f"{key.split('/')[-1]} {value.value}" for key, value in rows.items() if value is not None)
    print(f"{label:<16} run{'s' if len(run_ids) > 1 else ''} {', '.join(run_ids)}: {loaded} rows in Snowflake")


def _drop_feed_files(vendor_url: str, bucket: str, first: str, last: str) -> None:
    """The vendor delivers its corporate-action feed files into the landing prefix."""
    landing = DATASETS["corporate_actions"].source["prefix"]
    body = {"bucket": bucket, "prefix": landing, "from": first, "to": last, "format": "csv"}
    request = urllib.request.Request(
        vendor_url + "/admin/feeds/drop",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        keys = json.loads(response.read()).get("keys", [])
    print(f"vendor delivered {len(keys)} corporate-action feed files to s3://{bucket}/{landing}")


def _print_answer(snowflake: Any) -> None:
    with snowflake.get_connection() as conn, conn.cursor() as cur:
        cur.execute("USE SCHEMA ANALYTICS")
        cur.execute(TOP_MOVERS_SQL)
        rows = cur.fetchall()
    print("\nBiggest movers of the latest trading day (Snowflake, ANALYTICS.MART_TOP_MOVERS):")
    for direction, rank, symbol, name, sector, close_usd, daily_return in rows:
        print(
            f"  {direction:<7}{rank:>2}  {symbol:<10} {(name or '')[:28]:<28} {(sector or '')[:22]:<22}"
            f" close {close_usd or 0:>10.2f} USD  {100 * (daily_return or 0):+7.2f}%"
        )
