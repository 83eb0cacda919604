"""Ephemeral models, pre- and post-hooks and the grants config, on the local Snowflake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dbt_like_sql.engine import (
    ModelExecutionError,
    SchemaFileError,
    SnowflakeAdapter,
    build_model,
    load_project,
    plan,
    run_project,
)
from dbt_like_sql.engine.quoting import Relation
from tests.dbt_like_sql.conftest import write_project

TRADES = "trade_id,desk,notional\n1,rates,100\n2,rates,-40\n3,fx,70\n4,fx,0\n"

EPHEMERAL = {
    "seeds/trades.csv": TRADES,
    "models/nonzero_trades.sql": "{{ config(materialized='ephemeral') }}\n"
    "select * from {{ ref('trades') }} where notional <> 0",
    "models/signed_trades.sql": """
        {{ config(materialized='ephemeral') }}
        select trade_id, desk, case when notional > 0 then 'buy' else 'sell' end as side, abs(notional) as size
        from {{ ref('nonzero_trades') }}
    """,
    "models/desk_totals.sql": """
        {{ config(materialized='table') }}
        with by_desk as (
            select desk, side, sum(size) as size from {{ ref('signed_trades') }} group by desk, side
        )
        select * from by_desk
    """,
    "models/trade_count.sql": "select count(*) as trades from {{ ref('nonzero_trades') }}",
}


def rows(adapter: SnowflakeAdapter, sql: str) -> list[tuple[Any, ...]]:
    return adapter.execute(sql)[1]


def test_ephemeral_models_are_inlined_as_ctes_and_never_built(
    tmp_path: Path, adapter: SnowflakeAdapter, schema: str
) -> None:
    project = load_project(write_project(tmp_path, EPHEMERAL, schema))
    totals = project.models["desk_totals"]
    assert [name for name, _ in totals.ctes] == ["__dbt__cte__nonzero_trades", "__dbt__cte__signed_trades"]
    assert totals.compiled_sql.startswith("with __dbt__cte__nonzero_trades as (")
    assert "__dbt__cte__signed_trades as (" in totals.compiled_sql and "by_desk as (" in totals.compiled_sql
    assert project.models["trade_count"].compiled_sql.startswith("with __dbt__cte__nonzero_trades as (\nselect * from")

    steps = plan(project, "build", set(project.graph.nodes))
    assert steps == ["trades", "desk_totals", "trade_count"], "ephemeral models are no step of their own"
    outcomes = run_project(adapter, project, "build", set(project.graph.nodes))
    assert [o.status for o in outcomes] == ["success"] * 3
    assert sorted(rows(adapter, f'SELECT desk, side, size FROM "{schema}"."DESK_TOTALS"')) == [
        ("fx", "buy", 70),
        ("rates", "buy", 100),
        ("rates", "sell", 40),
    ]
    assert rows(adapter, f'SELECT trades FROM "{schema}"."TRADE_COUNT"') == [(3,)]
    for name in ("NONZERO_TRADES", "SIGNED_TRADES"):
        assert adapter.relation_kind(Relation(schema, name)) is None


def test_an_ephemeral_model_cannot_be_tested(tmp_path: Path) -> None:
    files = {
        **EPHEMERAL,
        "models/schema.yml": "version: 2\nmodels:\n  - name: signed_trades\n    columns:\n"
        "      - name: side\n        tests: [not_null]\n",
    }
    write_project(tmp_path, files)
    with pytest.raises(SchemaFileError, match=r"^models/schema.yml:6: 'signed_trades' is ephemeral, never built"):
        load_project(tmp_path)


def test_hooks_run_around_the_build_project_level_first(tmp_path: Path, adapter: SnowflakeAdapter, schema: str) -> None:
    audit = f"{schema}.BUILD_LOG"
    files = {
        "dbt_project.yml": f"""
            name: testing
            models:
              +schema: {schema}
              +pre-hook: "create table if not exists {audit} (step varchar, relation varchar)"
              +post-hook: "insert into {audit} values ('project post', '{{{{ this }}}}')"
        """,
        "models/report.sql": """
            {{ config(materialized='table',
                      pre_hook="insert into """
        + audit
        + """ values ('model pre', '{{ this }}')",
                      post_hook=["insert into """
        + audit
        + """ select 'model post', count(*) from {{ this }}"]) }}
            select 1 as id union all select 2
        """,
    }
    project = load_project(write_project(tmp_path, files, schema))
    result = build_model(adapter, project, "report")
    relation = f'"{schema}"."REPORT"'
    assert result.hooks == (
        f"create table if not exists {audit} (step varchar, relation varchar)",
        f"insert into {audit} values ('model pre', '{relation}')",
        f"insert into {audit} values ('project post', '{relation}')",
        f"insert into {audit} select 'model post', count(*) from {relation}",
    )
    assert rows(adapter, f"SELECT step, relation FROM {audit}") == [
        ("model pre", relation),
        ("project post", relation),
        ("model post", "2"),
    ]

    files["models/report.sql"] = (
        "{{ config(materialized='table', post_hook='insert into nowhere values (1)') }}\nselect 1 as id"
    )
    project = load_project(write_project(tmp_path, files, schema))
    with pytest.raises(ModelExecutionError, match=r"^models/report.sql:1: Snowflake refused a hook of"):
        build_model(adapter, project, "report")


def test_grants_are_compiled_and_recorded_where_the_warehouse_has_no_access_control(
    tmp_path: Path, adapter: SnowflakeAdapter, schema: str
) -> None:
    files = {
        "dbt_project.yml": f"""
            name: testing
            models:
              +schema: {schema}
              +grants:
                select: [reporter, "{{{{ env_var('TEST_AUDITOR_ROLE', 'auditor') }}}}"]
        """,
        "models/report.sql": "{{ config(materialized='table') }}\nselect 1 as id",
        "models/report_view.sql": "{{ config(grants={'select': 'reporter'}) }}\nselect id from {{ ref('report') }}",
    }
    project = load_project(write_project(tmp_path, files, schema))
    assert dict(project.models["report"].config.grants) == {"SELECT": ("REPORTER", "AUDITOR")}
    table = build_model(adapter, project, "report")
    view = build_model(adapter, project, "report_view")
    assert (table.grants, table.grants_applied) == (
        (
            f'GRANT SELECT ON TABLE "{schema}"."REPORT" TO ROLE "AUDITOR"',
            f'GRANT SELECT ON TABLE "{schema}"."REPORT" TO ROLE "REPORTER"',
        ),
        False,
    )
    assert view.grants == (f'GRANT SELECT ON VIEW "{schema}"."REPORT_VIEW" TO ROLE "REPORTER"',)


class RecordingSnowflake:
    """A DB-API connection answering SHOW GRANTS as Snowflake does, recording every statement."""

    def __init__(self, held: list[tuple[str, str, str]]) -> None:
        self.held = held  # (privilege, granted_to, grantee_name)
        self.statements: list[str] = []

    def cursor(self) -> RecordingSnowflake:
        return self

    def execute(self, sql: str, params: Any = None) -> None:
        self.statements.append(sql)
        self.description = [("privilege",), ("granted_on",), ("granted_to",), ("grantee_name",)]
        self._rows = [(p, "TABLE", to, name) for p, to, name in self.held] if sql.startswith("SHOW GRANTS") else []

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def close(self) -> None:
        pass


def test_grants_that_snowflake_already_holds_are_kept_and_dropped_roles_are_revoked() -> None:
    connection = RecordingSnowflake(
        [("OWNERSHIP", "ROLE", "LOADER"), ("SELECT", "ROLE", "ANALYST"), ("SELECT", "ROLE", "INTERN")]
    )
    grants = SnowflakeAdapter(connection).apply_grants(
        Relation("ANALYTICS", "T"), "table", {"SELECT": ("ANALYST", "AUDITOR")}
    )
    assert grants.applied
    assert grants.statements == (
        'GRANT SELECT ON TABLE "ANALYTICS"."T" TO ROLE "AUDITOR"',
        'REVOKE SELECT ON TABLE "ANALYTICS"."T" FROM ROLE "INTERN"',
    )
    assert connection.statements == ['SHOW GRANTS ON TABLE "ANALYTICS"."T"', *grants.statements]
