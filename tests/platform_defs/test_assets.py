"""The lineage as Dagster runs it: chain metadata, one observation per link, checks, Snowflake rows."""

from __future__ import annotations

import dagster as dg
import pytest

from lambda_workers.chain.status import ChainStatus, LinkOutcome
from local_stack.stack import LocalStack
from platform_defs.chain_clients import lambda_client
from platform_defs.deploy import deploy_chain_function
from platform_defs.settings import load_settings

DAY = "2025-06-03"
PRICES = [dg.AssetKey(["raw", "prices"]), dg.AssetKey(["lake", "prices"]), dg.AssetKey(["warehouse", "raw", "prices"])]


@pytest.fixture(scope="module")
def definitions(local_stack: LocalStack) -> dg.Definitions:
    settings = load_settings()
    deploy_chain_function(lambda_client(settings.aws), settings.chains.function_name, settings.chains.role_arn)
    from platform_defs.definitions import defs

    return defs


def materialize_prices(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        list(defs.assets or []),
        selection=dg.AssetSelection.assets(*PRICES),
        resources=defs.resources,
        instance=instance,
        partition_key=DAY,
    )


def test_prices_lineage_reports_the_chain_and_lands_in_snowflake(definitions: dg.Definitions) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize_prices(definitions, instance)
        assert result.success
        raw = result.asset_materializations_for_node("raw__prices")[0].metadata
        assert raw["status"].value == ChainStatus.DONE and raw["rows"].value == 3000
        assert raw["links"].value >= 1 and raw["progress"].value == 1.0
        assert raw["ssm_parameter"].value == f"/baton/local/chains/prices/{DAY}"
        assert raw["cursor"].value == {"offset": 3000}
        assert raw["s3_prefix"].value.startswith(f"raw/markets/prices/{DAY}/")
        # One fast link can start and commit within the same tenth of a second: no lower bound.
        assert raw["estimated_cost_usd"].value > 0 and raw["duration_s"].value >= 0
        observations = [e for e in result.all_events if e.event_type == dg.DagsterEventType.ASSET_OBSERVATION]
        assert len(observations) == raw["links"].value
        checks = result.get_asset_check_evaluations()
        assert sorted((c.check_name, c.passed) for c in checks) == [
            ("primary_key_unique", True),
            ("rows_accounted_for", True),
        ]
        warehouse = result.asset_materializations_for_node("warehouse__raw__prices")[0].metadata
        assert warehouse["dagster/row_count"].value == 3000

        again = materialize_prices(definitions, instance)
        raw_again = again.asset_materializations_for_node("raw__prices")[0].metadata
        assert raw_again["outcome"].value == LinkOutcome.SKIPPED, "a closed window calls no API"
        warehouse_again = again.asset_materializations_for_node("warehouse__raw__prices")[0].metadata
        assert warehouse_again["dagster/row_count"].value == 3000, "a reload replaces the partition"


def test_prices_fan_out_into_shards_and_stitch_in_the_lake(definitions: dg.Definitions) -> None:
    """On a day no other test extracts: the lake counts any earlier chain's rows as duplicates."""
    with dg.DagsterInstance.ephemeral() as instance:
        reference = [dg.AssetKey(["raw", "instruments"]), dg.AssetKey(["lake", "instruments"])]
        assets = list(definitions.assets or [])
        resources = definitions.resources
        instruments = dg.AssetSelection.assets(*reference)
        assert dg.materialize(assets, selection=instruments, resources=resources, instance=instance).success
        result = dg.materialize(
            assets,
            selection=dg.AssetSelection.assets(*PRICES[:2]),
            resources=resources,
            instance=instance,
            partition_key="2025-06-10",
            run_config={"ops": {"raw__prices": {"config": {"shards": 3, "max_concurrent_shards": 2}}}},
        )
        assert result.success
        raw = result.asset_materializations_for_node("raw__prices")[0].metadata
        assert raw["shards"].value == 3 and raw["rows"].value == 3000
        assert sorted(raw["cursor"].value) == [f"/baton/local/chains/prices/2025-06-10/s0{i}-of-03" for i in (1, 2, 3)]
        lake = result.asset_materializations_for_node("lake__prices")[0].metadata
        assert lake["lake_rows"].value == 3000 and lake["duplicates"].value == 0
