"""The business models on real platform data, checked against pandas computed from the lake's Parquet.

One module fixture runs the platform as Dagster would: the raw -> lake -> warehouse lineage of
the reference data and two trading days, then every seed and model (with their checks); then
a third day and the models again, so the incremental returns merge that day only. The expected
values are computed here from the lake files and the seed CSVs, never from Snowflake.
"""

from __future__ import annotations

import io
import json
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3
import dagster as dg
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from dbt_like_sql import PROJECT_DIR
from dbt_like_sql.engine import SnowflakeAdapter
from local_stack.stack import LocalStack
from platform_defs.assets import dataset_assets
from platform_defs.assets.sql_models import SQL_GROUPS as SQL_ASSET_GROUPS
from platform_defs.assets.sql_models import sql_model_assets
from platform_defs.chain_clients import lambda_client
from platform_defs.datasets import DATASETS
from platform_defs.deploy import deploy_chain_function
from platform_defs.resources import build_resources
from platform_defs.settings import Settings, load_settings
from platform_defs.sql_sources import platform_project

DAYS = ("2025-06-03", "2025-06-04")
LOADED = ("instruments", "corporate_actions", "intraday_prices", "prices", "fx_rates")
"""The datasets the marts are built from, which this module loads; any other declared one stays empty."""
NEXT_DAY = "2025-06-05"
FEEDS = ("2025-05-01", "2025-07-31")  # actions after the loaded days, so backward adjustment has work to do
DATE_COLUMNS = {
    "prices": "date",
    "fx_rates": "date",
    "intraday_prices": "ts",
    "instruments": "listed_on",
    "corporate_actions": "ex_date",
}
SQL_GROUPS = dg.AssetSelection.groups(*SQL_ASSET_GROUPS)


@dataclass(frozen=True)
class Platform:
    first: dg.ExecuteInProcessResult
    second: dg.ExecuteInProcessResult
    lake: dict[str, pd.DataFrame]
    partitions: dict[str, list[str]]
    marts: dict[str, pd.DataFrame]
    adapter: SnowflakeAdapter


def lineage(*names: str) -> dg.AssetSelection:
    return dg.AssetSelection.assets(
        *(dg.AssetKey([zone, name]) for name in names for zone in ("raw", "lake")),
        *(dg.AssetKey(["warehouse", "raw", name]) for name in names),
    )


def drop_feed_files(settings: Settings) -> None:
    """The vendor delivers its corporate-action files into the landing zone of the lake bucket."""
    body = {
        "bucket": settings.lake_bucket,
        "prefix": DATASETS["corporate_actions"].source["prefix"],
        "from": FEEDS[0],
        "to": FEEDS[1],
    }
    request = urllib.request.Request(
        settings.chains.vendors["markets"].base_url + "/admin/feeds/drop",
        data=json.dumps({**body, "format": "csv"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert json.loads(response.read())["keys"]


def lake_frame(settings: Settings, name: str, partitions: list[str]) -> pd.DataFrame:
    s3 = boto3.client("s3")
    frames = []
    for partition in partitions:
        listed = s3.list_objects_v2(Bucket=settings.lake_bucket, Prefix=DATASETS[name].lake_prefix(partition) + "/")
        for item in listed.get("Contents", []):
            body = s3.get_object(Bucket=settings.lake_bucket, Key=item["Key"])["Body"].read()
            frames.append(pq.read_table(io.BytesIO(body)).to_pandas())
    return pd.concat(frames, ignore_index=True)


def frame(adapter: SnowflakeAdapter, sql: str) -> pd.DataFrame:
    columns, rows = adapter.execute(sql)
    return pd.DataFrame(rows, columns=[c.lower() for c in columns])


@pytest.fixture(scope="module")
def platform(local_stack: LocalStack, connection: Any) -> Platform:
    settings = load_settings()
    deploy_chain_function(lambda_client(settings.aws), settings.chains.function_name, settings.chains.role_arn)
    resources = build_resources(settings)
    with dg.build_resources({"lake": resources["lake"]}):
        pass  # the local lake creates its bucket, which the vendor's feed files land in
    drop_feed_files(settings)
    assets = [*(a for d in DATASETS.values() for a in dataset_assets(d, None)), *sql_model_assets()]
    adapter = SnowflakeAdapter(connection)

    def materialize(selection: dg.AssetSelection, partition: str | None = None) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            assets, selection=selection, resources=resources, instance=instance, partition_key=partition
        )

    def loaded(name: str) -> list[str]:
        return sorted(str(p) for (p,) in adapter.execute(f"SELECT DISTINCT _PARTITION FROM {DATASETS[name].table}")[1])

    with dg.DagsterInstance.ephemeral() as instance:
        materialize(lineage("instruments", "corporate_actions"))
        materialize(lineage("intraday_prices"), DAYS[-1])
        for day in DAYS:
            materialize(lineage("prices", "fx_rates"), day)
        for day in sorted(set(loaded("prices")) - set(loaded("fx_rates"))):
            materialize(lineage("fx_rates"), day)  # days other tests loaded: every price needs its fixing
        first = materialize(SQL_GROUPS)
        materialize(lineage("prices", "fx_rates"), NEXT_DAY)
        second = materialize(SQL_GROUPS)
    partitions = {name: loaded(name) for name in LOADED}
    lake = {name: lake_frame(settings, name, partitions[name]) for name in LOADED}
    project = platform_project()
    marts = {name: frame(adapter, f"SELECT * FROM {model.relation}") for name, model in project.models.items()}
    return Platform(first, second, lake, partitions, marts, adapter)


def seed(name: str) -> pd.DataFrame:
    return pd.read_csv(PROJECT_DIR / "seeds" / f"{name}.csv", dtype=str, keep_default_na=False)


def expected_adjusted(prices: pd.DataFrame, actions: pd.DataFrame) -> pd.DataFrame:
    """Backward adjustment, action by action: the prices before each ex-date take its factor."""
    prices = prices.sort_values(["symbol", "date"]).reset_index(drop=True)
    factor = pd.Series(1.0, index=prices.index)
    applied = {"split": 0, "dividend": 0}
    for action in actions.itertuples():
        before = prices.index[(prices["symbol"] == action.symbol) & (prices["date"] < action.ex_date)]
        if before.empty:
            continue
        if action.action_type == "split":
            factor[before] *= 1 / action.ratio
        else:
            factor[before] *= 1 - action.amount / prices.loc[before, "close"].iloc[-1]
        applied[action.action_type] += 1
    assert applied["split"] and applied["dividend"], f"the loaded days must see both kinds of action: {applied}"
    return prices.assign(adjustment_factor=factor, adj_close=prices["close"] * factor)


def expected_returns(adjusted: pd.DataFrame) -> pd.DataFrame:
    adjusted = adjusted.sort_values(["symbol", "date"])
    previous = adjusted.groupby("symbol")["adj_close"].shift()
    returns = adjusted.assign(daily_return=adjusted["adj_close"] / previous - 1).dropna(subset=["daily_return"])
    return returns[["symbol", "date", "daily_return"]].rename(columns={"date": "trade_date"})


def by_key(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    table = table.copy()
    for column in ("trade_date", "date", "listed_on", "latest_date"):
        if column in table:
            table[column] = pd.to_datetime(table[column])
    return table.set_index(keys).sort_index()


def test_every_seed_model_and_check_succeeds_in_both_runs(platform: Platform) -> None:
    for result in (platform.first, platform.second):
        assert result.success
        failed = [
            (e.asset_key.to_user_string(), e.check_name) for e in result.get_asset_check_evaluations() if not e.passed
        ]
        assert failed == []


def test_every_column_of_every_model_and_seed_is_described(platform: Platform) -> None:
    project = platform_project()
    for node in [*project.models.values(), *project.seeds.values()]:
        actual = {name for name, _ in platform.adapter.columns(node.relation)}
        described = {c.name.upper() for c in node.columns if c.description}
        assert actual == described, node.relative_path
        assert node.description


def test_instrument_dimension_joins_the_reference_seeds(platform: Platform) -> None:
    instruments = platform.lake["instruments"]
    expected = (
        instruments.merge(seed("exchanges"), left_on="exchange", right_on="exchange_mic", how="left")
        .merge(seed("currencies"), left_on="currency", right_on="currency_code", how="left")
        .merge(seed("sector_mapping"), on="sector", how="left")
        .rename(columns={"name": "instrument_name", "timezone": "exchange_timezone"})
    )
    columns = ["isin", "instrument_name", "exchange_mic", "exchange_name", "country_code", "exchange_timezone"]
    columns += ["currency", "currency_name", "sector", "gics_sector_code", "sector_group", "listed_on"]
    actual = by_key(platform.marts["dim_instrument"], ["symbol"])[columns]
    pd.testing.assert_frame_equal(
        actual, by_key(expected, ["symbol"])[columns], check_dtype=False, check_index_type=False
    )
    assert len(actual) == len(instruments) == 3000


def test_prices_in_usd_divide_by_the_days_units_per_dollar(platform: Platform) -> None:
    prices, fx = platform.lake["prices"], platform.lake["fx_rates"]
    rates = fx[fx["base"] == "USD"].rename(columns={"quote": "currency"})[["date", "currency", "rate"]]
    expected = prices.merge(rates, on=["date", "currency"], how="left")
    expected["rate"] = expected["rate"].where(expected["currency"] != "USD", 1.0)
    holidays = seed("exchange_calendar").assign(date=lambda t: pd.to_datetime(t["holiday_date"]).dt.date)
    exchanges = platform.lake["instruments"][["symbol", "exchange"]]
    closed = expected.merge(exchanges, on="symbol").merge(
        holidays, left_on=["exchange", "date"], right_on=["exchange_mic", "date"], how="left"
    )
    expected = expected.assign(
        close_usd=expected["close"] / expected["rate"],
        high_usd=expected["high"] / expected["rate"],
        traded_value_usd=expected["close"] / expected["rate"] * expected["volume"],
        is_exchange_holiday=closed["holiday_name"].notna().to_numpy(),
    ).rename(columns={"date": "trade_date", "rate": "usd_rate"})
    actual = by_key(platform.marts["fct_prices_usd"], ["symbol", "trade_date"])
    expected = by_key(expected, ["symbol", "trade_date"])
    assert actual.index.equals(expected.index) and len(actual) == 3000 * len(platform.partitions["prices"])
    for column in ("usd_rate", "close_usd", "high_usd", "traded_value_usd"):
        np.testing.assert_allclose(actual[column].astype(float), expected[column].astype(float), rtol=1e-12)
    assert (actual["is_exchange_holiday"] == expected["is_exchange_holiday"]).all()
    assert set(actual.loc[actual["currency"] == "USD", "usd_rate"]) == {1.0}


def test_adjusted_prices_and_returns_follow_the_corporate_actions(platform: Platform) -> None:
    adjusted = expected_adjusted(platform.lake["prices"], platform.lake["corporate_actions"])
    actual = by_key(platform.marts["fct_prices_adjusted"], ["symbol", "trade_date"])
    expected = by_key(adjusted.rename(columns={"date": "trade_date"}), ["symbol", "trade_date"])
    np.testing.assert_allclose(actual["adjustment_factor"], expected["adjustment_factor"], rtol=1e-9)
    np.testing.assert_allclose(actual["adj_close"], expected["adj_close"], rtol=1e-9)
    assert (actual["adjustment_factor"] != 1).sum() > 0

    returns = expected_returns(adjusted)
    actual_returns = by_key(platform.marts["fct_daily_returns"], ["symbol", "trade_date"])
    expected_returns_ = by_key(returns, ["symbol", "trade_date"])
    assert actual_returns.index.equals(expected_returns_.index)
    np.testing.assert_allclose(actual_returns["daily_return"], expected_returns_["daily_return"], rtol=1e-9, atol=1e-12)


def test_the_second_run_merges_only_the_new_days_returns(platform: Platform) -> None:
    def returns_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
        metadata = result.asset_materializations_for_node("analytics__fct_daily_returns")[0].metadata
        return {k: v.value for k, v in metadata.items() if k in ("action", "rows_inserted", "rows_updated")}

    new_day = pd.Timestamp(NEXT_DAY)
    returns = by_key(platform.marts["fct_daily_returns"], ["symbol", "trade_date"])
    new_rows = int((returns.index.get_level_values("trade_date") == new_day).sum())
    assert new_rows == 3000
    assert returns_metadata(platform.first) == {"action": "created table (full incremental build)"}
    assert returns_metadata(platform.second) == {"action": "merged", "rows_inserted": new_rows, "rows_updated": 0}


def test_top_movers_are_each_days_five_best_and_worst_returns(platform: Platform) -> None:
    returns = expected_returns(expected_adjusted(platform.lake["prices"], platform.lake["corporate_actions"]))
    expected = []
    for day, group in returns.groupby("trade_date"):
        ordered = group.sort_values(["daily_return", "symbol"], ascending=[False, True])
        expected += [(day, "gainer", rank, symbol) for rank, symbol in enumerate(ordered["symbol"].head(5), 1)]
        ordered = group.sort_values(["daily_return", "symbol"])
        expected += [(day, "loser", rank, symbol) for rank, symbol in enumerate(ordered["symbol"].head(5), 1)]
    movers = platform.marts["mart_top_movers"]
    actual = sorted(zip(movers["trade_date"], movers["direction"], movers["move_rank"], movers["symbol"], strict=True))
    assert actual == sorted(expected)
    assert movers["instrument_name"].notna().all() and movers["close_usd"].notna().all()


def test_data_quality_summarises_each_raw_table(platform: Platform) -> None:
    """A row per declared dataset: the loaded ones as their lake has them, any other (a new declaration) empty."""
    actual = by_key(platform.marts["mart_data_quality"], ["source_table"])
    for name, dataset in DATASETS.items():
        if name not in LOADED:
            assert (actual.loc[name]["row_count"], actual.loc[name]["partition_count"]) == (0, 0), name
            continue
        table = platform.lake[name]
        required = [c.name for c in dataset.columns if c.required]
        row = actual.loc[name]
        assert row["row_count"] == len(table), name
        assert row["null_count"] == int(table[required].isna().sum().sum()), name
        assert row["latest_date"] == pd.Timestamp(pd.to_datetime(table[DATE_COLUMNS[name]]).max().date()), name
        assert row["partition_count"] == len(platform.partitions[name]), name
    assert len(actual) == len(DATASETS)


def test_snowflake_keeps_the_descriptions_as_comments(platform: Platform) -> None:
    project = platform_project()
    model = project.models["fct_daily_returns"]
    _, found = platform.adapter.execute(
        "SELECT comment FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
        (model.relation.schema, model.relation.name),
    )
    assert found == [(model.description,)]


def test_marts_grant_select_to_the_analyst_role_and_nothing_else_grants(platform: Platform) -> None:
    """Each mart grants SELECT to the analyst role; staging views, seeds and RAW grant it nothing.

    The local Snowflake has no access control, so the statements are compiled and recorded, not run.
    """
    project = platform_project()
    marts = {name for name, model in project.models.items() if model.relative_path.startswith("models/marts/")}
    recorded: dict[str, Any] = {}
    for event in platform.first.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if "grants" in materialization.metadata:
            name = materialization.asset_key.path[-1]
            recorded[name] = (
                materialization.metadata["grants"].value,
                materialization.metadata["grants_applied"].value,
            )
    assert marts and recorded == {
        name: ([f'GRANT SELECT ON TABLE "ANALYTICS"."{name.upper()}" TO ROLE "BATON_ANALYST"'], False) for name in marts
    }
