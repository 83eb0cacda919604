"""Building on the local Snowflake: views, tables, incremental merges, seeds, tests and the runner."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest

from dbt_like_sql.cli import main
from dbt_like_sql.engine import (
    ModelExecutionError,
    SnowflakeAdapter,
    build_model,
    load_project,
    load_seed,
    run_project,
    run_test,
)
from dbt_like_sql.engine.seeds import ROWS_PER_STATEMENT
from platform_defs.cli import main as baton
from tests.dbt_like_sql.conftest import write_project

EVENTS = "event_id,day,amount\n1,2025-06-02,10\n2,2025-06-02,20\n3,2025-06-03,30\n"


def rows(adapter: SnowflakeAdapter, sql: str) -> list[tuple[Any, ...]]:
    return adapter.execute(sql)[1]


def comment_of(adapter: SnowflakeAdapter, schema: str, name: str) -> str | None:
    _, found = adapter.execute(
        "SELECT comment FROM information_schema.tables WHERE table_schema = %s AND table_name = %s", (schema, name)
    )
    return found[0][0] if found else None


def test_view_and_table_materialisations_replace_each_other(
    tmp_path: Path, adapter: SnowflakeAdapter, schema: str
) -> None:
    files = {
        "models/base.sql": "select 1 as id, 'it''s' as label union all select 2, 'b'",
        "models/report.sql": "{{ config(materialized='table') }}\nselect id * 10 as value from {{ ref('base') }}",
        "models/schema.yml": """
            version: 2
            models:
              - name: report
                description: The company's report; apostrophes and \\backslashes are fine.
                columns:
                  - name: value
                    description: Ten times the id, the analyst's favourite.
              - name: base
                description: Two rows, the base's only job.
                columns:
                  - name: id
                    description: The row's id.
        """,
    }
    project = load_project(write_project(tmp_path, files, schema))
    base = build_model(adapter, project, "base")
    report = build_model(adapter, project, "report")
    assert (base.action, adapter.relation_kind(project.models["base"].relation)) == ("created view", "view")
    assert (report.action, report.row_count) == ("created table", 2)
    assert [c for c, _ in report.columns] == ["VALUE"]
    assert sorted(rows(adapter, f'SELECT value FROM "{schema}"."REPORT"')) == [(10,), (20,)]
    assert comment_of(adapter, schema, "REPORT") == "The company\u2019s report; apostrophes and \\backslashes are fine."

    files["models/base.sql"] = "{{ config(materialized='table') }}\nselect 3 as id"
    files["models/report.sql"] = "select id * 10 as value from {{ ref('base') }}"
    project = load_project(write_project(tmp_path, files, schema))
    assert build_model(adapter, project, "base").action == "created table"
    assert build_model(adapter, project, "report").action == "created view"
    assert adapter.relation_kind(project.models["base"].relation) == "table"
    assert adapter.relation_kind(project.models["report"].relation) == "view"
    assert rows(adapter, f'SELECT value FROM "{schema}"."REPORT"') == [(30,)]


INCREMENTAL = """
{{ config(materialized='incremental', unique_key='event_id') }}
select event_id, day, amount
from {{ ref('events') }}
{% if is_incremental() %}
where day > (select max(day) from {{ this }})
{% endif %}
"""


def test_incremental_model_merges_only_new_rows_and_rebuilds_on_full_refresh(
    tmp_path: Path, adapter: SnowflakeAdapter, schema: str
) -> None:
    files = {"seeds/events.csv": EVENTS, "models/daily.sql": INCREMENTAL}
    project = load_project(write_project(tmp_path, files, schema))
    load_seed(adapter, project.seeds["events"])
    first = build_model(adapter, project, "daily")
    assert (first.action, first.row_count) == ("created table (full incremental build)", 3)
    assert "is_incremental" not in first.sql and "max(day)" not in first.sql

    # The vendor corrects event 1 (an old day) and delivers a new day with two events.
    files["seeds/events.csv"] = (
        EVENTS.replace("1,2025-06-02,10", "1,2025-06-02,11") + "4,2025-06-04,40\n5,2025-06-04,50\n"
    )
    project = load_project(write_project(tmp_path, files, schema))
    load_seed(adapter, project.seeds["events"])
    second = build_model(adapter, project, "daily")
    assert (second.action, second.rows_inserted, second.rows_updated, second.row_count) == ("merged", 2, 0, 5)
    assert f'from "{schema}"."DAILY"' in second.sql
    amounts = dict(rows(adapter, f'SELECT event_id, amount FROM "{schema}"."DAILY"'))
    assert amounts == {1: 10, 2: 20, 3: 30, 4: 40, 5: 50}, "old days are not re-read"

    refreshed = build_model(adapter, project, "daily", full_refresh=True)
    assert refreshed.action == "created table (full incremental build)"
    assert dict(rows(adapter, f'SELECT event_id, amount FROM "{schema}"."DAILY"'))[1] == 11


def test_incremental_merge_updates_matching_keys_and_append_without_key_adds(
    tmp_path: Path, adapter: SnowflakeAdapter, schema: str
) -> None:
    files = {
        "seeds/events.csv": EVENTS,
        "models/merged.sql": "{{ config(materialized='incremental', unique_key=['event_id', 'day']) }}\n"
        "select event_id, day, amount * 2 as amount from {{ ref('events') }}",
        "models/appended.sql": "{{ config(materialized='incremental') }}\nselect event_id from {{ ref('events') }}",
    }
    project = load_project(write_project(tmp_path, files, schema))
    load_seed(adapter, project.seeds["events"])
    for name in ("merged", "appended"):
        build_model(adapter, project, name)
    merged = build_model(adapter, project, "merged")
    appended = build_model(adapter, project, "appended")
    assert (merged.rows_inserted, merged.rows_updated, merged.row_count) == (0, 3, 3)
    assert (appended.action, appended.rows_inserted, appended.row_count) == ("inserted", 3, 6)


def test_seeds_infer_types_unless_configured_and_reload_in_place(
    tmp_path: Path, adapter: SnowflakeAdapter, schema: str
) -> None:
    files = {
        "dbt_project.yml": f"""
            name: testing
            seeds:
              +schema: {schema}
              testing:
                codes:
                  +column_types:
                    code: varchar(3)
        """,
        "seeds/codes.csv": "code,label,rank,weight,active,since,seen_at,zip\n"
        "10,O'Brien's,1,0.5,true,2025-01-02,2025-01-02 10:30:00,01234\n"
        "20,,2,,false,,,99999\n",
    }
    project = load_project(write_project(tmp_path, files, schema))
    result = load_seed(adapter, project.seeds["codes"])
    assert dict(result.columns) == {
        "CODE": "VARCHAR(3)",
        "LABEL": "VARCHAR",
        "RANK": "NUMBER(38,0)",
        "WEIGHT": "FLOAT",
        "ACTIVE": "BOOLEAN",
        "SINCE": "DATE",
        "SEEN_AT": "TIMESTAMP_NTZ",
        "ZIP": "VARCHAR",
    }
    loaded = rows(adapter, f'SELECT code, label, rank, weight, active, zip FROM "{schema}"."CODES" ORDER BY rank')
    assert loaded == [("10", "O'Brien's", 1, 0.5, True, "01234"), ("20", None, 2, None, False, "99999")]
    (tmp_path / "seeds/codes.csv").write_text("code,label,rank,weight,active,since,seen_at,zip\n30,x,3,1,true,,,1\n")
    assert load_seed(adapter, load_project(tmp_path).seeds["codes"]).row_count == 1
    assert rows(adapter, f'SELECT code FROM "{schema}"."CODES"') == [("30",)]


FAILING_TESTS = """
version: 2
models:
  - name: accounts
    columns:
      - name: account_id
        data_tests: [unique, not_null]
      - name: status
        data_tests:
          - accepted_values:
              values: [open, closed]
      - name: owner_id
        data_tests:
          - relationships:
              to: ref('owners')
              field: owner_id
              config:
                severity: warn
"""


def test_failing_tests_report_file_line_count_and_sample_rows(
    tmp_path: Path, adapter: SnowflakeAdapter, schema: str
) -> None:
    files = {
        "models/owners.sql": "select 1 as owner_id",
        "models/accounts.sql": """
            select 1 as account_id, 'open' as status, 1 as owner_id
            union all select 1, 'open', 1
            union all select null, 'frozen', 7
            union all select null, 'open', 1
        """,
        "models/schema.yml": FAILING_TESTS,
    }
    project = load_project(write_project(tmp_path, files, schema))
    build_model(adapter, project, "owners")
    build_model(adapter, project, "accounts")
    results = {test.name: run_test(adapter, project, test) for test in project.tests}

    not_null = results["not_null_account_id"]
    assert (not_null.status, not_null.failures) == ("fail", 2)
    assert not_null.message.startswith("models/schema.yml:6: test not_null_account_id on accounts.account_id failed")
    assert "2 failing row(s)" in not_null.message and "| ACCOUNT_ID | STATUS | OWNER_ID |" in not_null.message
    assert "| NULL | frozen | 7 |" in not_null.message

    assert (results["unique_account_id"].failures, results["unique_account_id"].sample_rows) == (1, ((1, 2),))
    accepted = results["accepted_values_status"]
    assert accepted.message.startswith("models/schema.yml:9:") and accepted.sample_rows == (("frozen", 1),)
    relation = results["relationships_owner_id"]
    assert (relation.status, relation.sample_rows) == ("warn", ((7,),))
    assert relation.message.startswith("models/schema.yml:13:")


def test_a_statement_snowflake_refuses_names_the_model_file(
    tmp_path: Path, adapter: SnowflakeAdapter, schema: str
) -> None:
    files = {
        "models/base.sql": "select 1 as a",
        "models/broken.sql": "select\n  no_such_column\nfrom {{ ref('base') }}",
    }
    project = load_project(write_project(tmp_path, files, schema))
    build_model(adapter, project, "base")
    with pytest.raises(ModelExecutionError, match=r"^models/broken.sql(:\d+)?: Snowflake refused to build"):
        build_model(adapter, project, "broken")


def test_build_skips_what_reads_a_failed_node_and_keeps_going(
    tmp_path: Path, adapter: SnowflakeAdapter, schema: str
) -> None:
    files = {
        "models/accounts.sql": "select null as account_id, 'open' as status, 1 as owner_id",
        "models/owners.sql": "select 1 as owner_id",
        "models/by_status.sql": "select status, count(*) as n from {{ ref('accounts') }} group by status",
        "models/schema.yml": FAILING_TESTS,
    }
    project = load_project(write_project(tmp_path, files, schema))
    outcomes = {o.name: o.status for o in run_project(adapter, project, "build", set(project.graph.nodes))}
    assert outcomes["accounts"] == "success" and outcomes["owners"] == "success"
    assert outcomes["not_null_account_id"] == "fail"
    assert outcomes["by_status"] == "skipped", "a failing test of error severity stops what reads the model"
    assert adapter.relation_kind(project.models["by_status"].relation) is None


def test_cli_runs_dbt_commands_with_selection(
    tmp_path: Path, connection: Any, schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {
        "seeds/events.csv": EVENTS,
        "models/daily.sql": INCREMENTAL,
        "models/totals.sql": "select sum(amount) as total from {{ ref('daily') }}",
        "models/other.sql": "select 1 as x",
    }
    project_dir = str(write_project(tmp_path, files, schema))

    def connect() -> Any:
        return nullcontext(connection)

    assert main(["build", "--select", "events+", "--project-dir", project_dir], connect=connect) == 0
    printed = capsys.readouterr().out
    assert "3 nodes selected" in printed and "OK    model" in printed and "OTHER" not in printed
    assert main(["compile", "-s", "daily", "--project-dir", project_dir], connect=connect) == 0
    assert f'where day > (select max(day) from "{schema}"."DAILY")' in capsys.readouterr().out
    assert main(["compile", "-s", "daily", "--project-dir", project_dir]) == 0
    assert "max(day)" not in capsys.readouterr().out, "offline, a model compiles as its first build"
    assert main(["run", "-s", "nope", "--project-dir", project_dir], connect=connect) == 1
    assert "matches no model or seed" in capsys.readouterr().err


def test_a_seed_longer_than_one_statement_loads_every_row(
    tmp_path: Path, adapter: SnowflakeAdapter, schema: str
) -> None:
    count = 2 * ROWS_PER_STATEMENT + 1
    lines = "".join(f"{n},{n * 0.5},name {n}\n" for n in range(1, count + 1))
    project = load_project(write_project(tmp_path, {"seeds/numbers.csv": "n,half,label\n" + lines}, schema))
    assert load_seed(adapter, project.seeds["numbers"]).row_count == count
    assert rows(adapter, f'SELECT COUNT(*), SUM(n), SUM(half) FROM "{schema}"."NUMBERS"') == [
        (count, count * (count + 1) // 2, count * (count + 1) / 4)
    ]


def test_baton_sql_runs_on_the_platforms_snowflake(
    tmp_path: Path, adapter: SnowflakeAdapter, schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project_dir = write_project(tmp_path, {"seeds/events.csv": EVENTS, "models/daily.sql": INCREMENTAL}, schema)
    assert baton(["sql", "build", "--project-dir", str(project_dir)]) == 0
    assert "Done. OK=2" in capsys.readouterr().out
    assert rows(adapter, f'SELECT COUNT(*) FROM "{schema}"."DAILY"') == [(3,)]
