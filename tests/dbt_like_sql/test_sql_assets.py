"""The SQL project as Dagster assets: keys, lineage into the warehouse assets, checks, automation."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from local_stack.stack import LocalStack
from platform_defs.assets import dataset_assets
from platform_defs.assets.sql_models import sql_model_assets
from platform_defs.datasets import DATASETS
from platform_defs.resources import build_resources
from platform_defs.resources.warehouse import SnowflakeResource
from platform_defs.settings import load_settings
from platform_defs.sql_sources import platform_project
from tests.dbt_like_sql.conftest import write_project


def key(*path: str) -> dg.AssetKey:
    return dg.AssetKey(list(path))


@pytest.fixture(scope="module")
def platform_defs(local_stack: LocalStack) -> dg.Definitions:
    """The platform's lineage plus the SQL project, as definitions.py would assemble them."""
    assets = [a for dataset in DATASETS.values() for a in dataset_assets(dataset, None)]
    return dg.Definitions(assets=[*assets, *sql_model_assets()], resources=build_resources(load_settings()))


def test_models_read_refs_and_the_warehouse_assets_of_their_sources(platform_defs: dg.Definitions) -> None:
    graph = platform_defs.resolve_asset_graph()
    assert graph.get(key("analytics", "stg_prices")).parent_keys == {key("warehouse", "raw", "prices")}
    assert graph.get(key("analytics", "fct_prices_usd")).parent_keys == {
        key("analytics", "stg_prices"),
        key("analytics", "stg_fx_rates"),
        key("analytics", "dim_instrument"),
        key("analytics", "exchange_calendar"),
    }
    assert graph.get(key("analytics", "mart_data_quality")).parent_keys == {
        key("warehouse", "raw", name) for name in DATASETS
    }
    assert graph.get(key("analytics", "stg_fx_rates")).parent_keys == {
        key("warehouse", "raw", "fx_rates"),
        key("analytics", "currencies"),
    }, "the parent of a relationships test comes first: the test runs in the model's step"
    assert graph.get(key("analytics", "dim_instrument")).group_name == "marts"
    assert graph.get(key("analytics", "currencies")).group_name == "seeds"
    project = platform_project()
    checks = {(k.asset_key.path[-1], k.name) for k in graph.asset_check_keys if k.asset_key.path[0] == "analytics"}
    assert checks == {(t.node, t.name) for t in project.tests}
    relationships = graph.get_check_spec(dg.AssetCheckKey(key("analytics", "fct_prices_usd"), "relationships_symbol"))
    assert relationships.blocking and key("analytics", "dim_instrument") in {
        d.asset_key for d in relationships.additional_deps
    }


def test_descriptions_become_metadata(platform_defs: dg.Definitions) -> None:
    node = platform_defs.resolve_asset_graph().get(key("analytics", "fct_daily_returns"))
    assert node.description and node.description.startswith("Daily total returns from adjusted closes")
    schema = node.metadata["dagster/column_schema"]
    described = {c.name: c.description for c in schema.columns}
    assert (
        described["DAILY_RETURN"] == "adj_close / previous_adj_close - 1, the day's total return including dividends."
    )
    seed_schema = platform_defs.resolve_asset_graph().get(key("analytics", "sector_mapping")).metadata
    assert {c.name: c.type for c in seed_schema["dagster/column_schema"].columns}["GICS_SECTOR_CODE"] == "VARCHAR(2)"


def test_an_update_of_one_day_of_prices_refreshes_what_reads_prices(platform_defs: dg.Definitions) -> None:
    sql_keys = [k for k in platform_defs.resolve_asset_graph().get_all_asset_keys() if k.path[0] == "analytics"]

    def everything_built(instance: dg.DagsterInstance) -> None:
        for asset_key in sql_keys:
            instance.report_runless_asset_event(dg.AssetMaterialization(asset_key))

    with dg.DagsterInstance.ephemeral() as instance:
        for name, dataset in DATASETS.items():
            partition = "2025-06-03" if dataset.partitions else None
            instance.report_runless_asset_event(
                dg.AssetMaterialization(key("warehouse", "raw", name), partition=partition)
            )
        everything_built(instance)
        first = dg.evaluate_automation_conditions(defs=platform_defs, instance=instance)
        everything_built(instance)
        quiet = dg.evaluate_automation_conditions(defs=platform_defs, instance=instance, cursor=first.cursor)
        assert quiet.total_requested == 0
        instance.report_runless_asset_event(
            dg.AssetMaterialization(key("warehouse", "raw", "prices"), partition="2025-06-04")
        )
        after = dg.evaluate_automation_conditions(defs=platform_defs, instance=instance, cursor=quiet.cursor)
    requested = {r.key.path[-1] for r in after.results if r.true_subset.size}
    assert {"stg_prices", "fct_prices_adjusted", "fct_daily_returns", "fct_prices_usd", "mart_top_movers"} <= requested
    assert "mart_data_quality" in requested
    assert not requested & {"dim_instrument", "stg_fx_rates", "currencies"}, "nothing that does not read prices"


PROJECT = {
    "seeds/owners.csv": "owner_id,owner_name\n1,Ada\n2,Grace\n",
    "models/accounts.sql": """
        {{ config(materialized='table') }}
        select 10 as account_id, 1 as owner_id, 'open' as status
        union all select 11, 2, 'open'
        union all select 12, 2, 'closed'
    """,
    "models/open_accounts.sql": "select * from {{ ref('accounts') }} where status = 'open'",
    "models/balances.sql": """
        {{ config(materialized='incremental', unique_key='account_id') }}
        select account_id, cast(null as number) as balance from {{ ref('accounts') }}
        {% if is_incremental() %} where account_id > (select max(account_id) from {{ this }}) {% endif %}
    """,
    "models/balance_report.sql": "select count(*) as accounts from {{ ref('balances') }}",
    "models/schema.yml": """
        version: 2
        models:
          - name: accounts
            description: Every account.
            columns:
              - name: account_id
                description: The account's number.
                data_tests: [unique, not_null]
              - name: owner_id
                description: Who holds it.
                data_tests:
                  - relationships:
                      to: ref('owners')
                      field: owner_id
              - name: status
                data_tests:
                  - accepted_values:
                      values: [open]
                      config:
                        severity: warn
          - name: balances
            columns:
              - name: balance
                data_tests: [not_null]
    """,
}


@pytest.fixture
def warehouse(local_stack: LocalStack) -> SnowflakeResource:
    resource: SnowflakeResource = build_resources(load_settings())["snowflake"]
    return resource


def test_models_and_checks_materialise_through_dagster(
    tmp_path: Path, warehouse: SnowflakeResource, schema: str
) -> None:
    assets = sql_model_assets(write_project(tmp_path, PROJECT, schema))
    group = schema.lower()
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(assets, resources={"snowflake": warehouse}, instance=instance, raise_on_error=False)
    assert not result.success, "a failing blocking check fails the run"
    built = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert built == {"owners", "accounts", "open_accounts", "balances"}, "balance_report waits for a clean balances"

    accounts = result.asset_materializations_for_node(f"{group}__accounts")[0].metadata
    assert accounts["dagster/row_count"].value == 3
    assert accounts["dagster/table_name"].value == f"BATON.{schema}.ACCOUNTS"
    columns = {c.name: (c.type, c.description) for c in accounts["dagster/column_schema"].schema.columns}
    assert columns["ACCOUNT_ID"][1] == "The account's number." and columns["STATUS"][1] is None

    checks = {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}
    assert checks[("accounts", "unique_account_id")].passed
    assert checks[("accounts", "relationships_owner_id")].passed
    warned = checks[("accounts", "accepted_values_status")]
    assert not warned.passed and warned.severity == dg.AssetCheckSeverity.WARN
    failed = checks[("balances", "not_null_balance")]
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.ERROR
    assert failed.metadata["failing_rows"].value == 3
    assert failed.description.startswith("models/schema.yml:24: test not_null_balance on balances.balance failed")
    assert "| ACCOUNT_ID | BALANCE |" in failed.metadata["sample"].value


def test_incremental_models_take_a_full_refresh_config(
    tmp_path: Path, warehouse: SnowflakeResource, schema: str
) -> None:
    project = {k: v for k, v in PROJECT.items() if k != "models/schema.yml"}
    assets = sql_model_assets(write_project(tmp_path, project, schema))
    selection = dg.AssetSelection.assets(key(schema.lower(), "balances")).upstream()
    op = f"{schema.lower()}__balances"

    def run(full_refresh: bool) -> str:
        config = {"ops": {op: {"config": {"full_refresh": full_refresh}}}}
        result = dg.materialize(assets, selection=selection, resources={"snowflake": warehouse}, run_config=config)
        return result.asset_materializations_for_node(op)[0].metadata["action"].value

    assert [run(False), run(False), run(True)] == [
        "created table (full incremental build)",
        "merged",
        "created table (full incremental build)",
    ]
