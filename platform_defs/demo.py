"""The main job on the embedded stack: the whole lineage for recent days, then a business answer.

Runs are recorded in the stack's Dagster instance, so `make dev` shows them afterwards. A second
run reuses what is there: a chain whose window is closed calls no API, and reloads replace
partitions instead of adding to them.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping
from typing import Any

import dagster as dg

from platform_defs.assets.sql_models import MARTS_GROUP, SEEDS_GROUP
from platform_defs.automation.jobs import lineage_keys
from platform_defs.chain_clients import lambda_client
from platform_defs.datasets import DATASETS, LANDING_CORPORATE_ACTIONS, WEEKDAYS
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
    days = WEEKDAYS.get_partition_keys()[-DAYS:]
    _drop_feed_files(settings.chains.vendor_base_url, settings.lake_bucket, days[0], days[-1])
    instance = dg.DagsterInstance.get()
    assets = list(defs.assets or [])
    reference = dg.AssetSelection.assets(
        *(key for name in ("instruments", "corporate_actions") for key in lineage_keys(DATASETS[name]))
    )
    _run(assets, reference, resources, instance, None, "reference data")
    daily = dg.AssetSelection.assets(*(key for name in ("prices", "fx_rates") for key in lineage_keys(DATASETS[name])))
    for day in days:
        _run(assets, daily, resources, instance, day, day)
    intraday = dg.AssetSelection.assets(*lineage_keys(DATASETS["intraday_prices"]))
    _run(assets, intraday, resources, instance, days[-1], f"{days[-1]} bars")
    _run(assets, dg.AssetSelection.groups(SEEDS_GROUP, MARTS_GROUP), resources, instance, None, "SQL models")
    _print_answer(resources["snowflake"])
    print(
        "\nOpen the UI with `make dev` (http://127.0.0.1:3000): Assets > raw > prices shows each chain's cursor,"
        " links, rows and cost; the marts group holds the models above, with their tests as checks."
    )
    return 0


def _run(
    assets: list[Any],
    selection: dg.AssetSelection,
    resources: Mapping[str, Any],
    instance: dg.DagsterInstance,
    partition: str | None,
    label: str,
) -> None:
    result = dg.materialize(
        assets,
        selection=selection,
        resources=resources,
        instance=instance,
        partition_key=partition,
        raise_on_error=True,
        # The console shows warnings only, so the summary lines stand out; the UI keeps every event.
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    rows = {
        event.asset_key.to_user_string(): event.materialization.metadata.get("dagster/row_count")
        for event in result.get_asset_materialization_events()
        if event.asset_key and event.asset_key.path[0] in ("warehouse", "analytics")
    }
    loaded = ", ".join(f"{key.split('/')[-1]} {value.value}" for key, value in rows.items() if value is not None)
    print(f"{label:<16} run {result.run_id[:8]}: {loaded} rows in Snowflake")


def _drop_feed_files(vendor_url: str, bucket: str, first: str, last: str) -> None:
    """The vendor delivers its corporate-action feed files into the landing prefix."""
    body = {"bucket": bucket, "prefix": LANDING_CORPORATE_ACTIONS, "from": first, "to": last, "format": "csv"}
    request = urllib.request.Request(
        vendor_url + "/admin/feeds/drop",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        keys = json.loads(response.read()).get("keys", [])
    print(f"vendor delivered {len(keys)} corporate-action feed files to s3://{bucket}/{LANDING_CORPORATE_ACTIONS}")


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
