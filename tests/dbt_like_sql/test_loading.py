"""Loading a project: every error names the file and line, the graph and selection follow dbt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dbt_like_sql import PROJECT_DIR
from dbt_like_sql.engine import (
    CycleError,
    ProjectConfigError,
    SchemaFileError,
    SelectionError,
    SqlSyntaxError,
    TemplateError,
    UndeclaredTableError,
    UnknownRefError,
    UnknownSourceError,
    load_project,
    select,
)
from dbt_like_sql.engine.line_map import source_line
from platform_defs.sql_sources import platform_project
from tests.dbt_like_sql.conftest import write_project

RAW_SOURCE = """
version: 2
sources:
  - name: raw
    schema: RAW
    tables:
      - name: prices
      - name: fx_rates
"""


def test_the_platform_project_loads_in_dependency_order() -> None:
    project = platform_project()
    order = project.order()
    assert set(project.seeds) == {"currencies", "exchange_calendar", "exchanges", "sector_mapping"}
    for name, model in project.models.items():
        assert model.description, f"{name} has no description"
        assert model.columns and all(c.description for c in model.columns), f"{name} has undescribed columns"
        for parent in project.graph.parents(name):
            assert order.index(parent) < order.index(name)
    assert project.models["fct_daily_returns"].config.unique_key == ("SYMBOL", "TRADE_DATE")
    assert {c.target for c in project.models["fct_prices_usd"].refs} >= {"stg_prices", "exchange_calendar"}


def test_unknown_ref_names_file_line_and_a_close_match(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "models/orders.sql": "select 1 as id",
            "models/report.sql": """
                -- the report
                select *
                from {{ ref('order') }}
            """,
        },
    )
    with pytest.raises(UnknownRefError) as error:
        load_project(tmp_path)
    assert str(error.value).startswith("models/report.sql:3: ref('order') names no model or seed")
    assert "did you mean 'orders'" in str(error.value)


def test_a_cycle_is_reported_at_the_ref_that_closes_it(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "models/a.sql": "select * from {{ ref('b') }}",
            "models/b.sql": "select *\nfrom {{ ref('c') }}",
            "models/c.sql": "select 1 as x\nunion all\nselect * from {{ ref('a') }}",
        },
    )
    with pytest.raises(CycleError) as error:
        load_project(tmp_path)
    assert str(error.value) == "models/a.sql:1: ref('b') closes a cycle: a -> b -> c -> a"


def test_jinja_syntax_error_names_the_line(tmp_path: Path) -> None:
    write_project(tmp_path, {"models/m.sql": "select 1 as x\n{% if %}\nfrom t\n{% endif %}"})
    with pytest.raises(TemplateError) as error:
        load_project(tmp_path)
    assert str(error.value).startswith("models/m.sql:2: Jinja syntax error")


def test_an_undefined_jinja_name_names_the_line(tmp_path: Path) -> None:
    write_project(tmp_path, {"models/m.sql": "select 1 as x\n\nwhere '{{ deployment.name }}' = 'prod'"})
    with pytest.raises(TemplateError) as error:
        load_project(tmp_path)
    assert str(error.value).startswith("models/m.sql:3: Jinja error: 'deployment' is undefined")


def test_sql_syntax_error_maps_back_to_the_file_line_across_jinja(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "models/base.sql": "select 1 as a",
            "models/m.sql": """
                {{ config(materialized='table') }}
                {% if false %}
                this block renders to nothing
                and shifts every later line
                {% endif %}
                select a
                from {{ ref('base') }}
                where a = )
            """,
        },
    )
    with pytest.raises(SqlSyntaxError) as error:
        load_project(tmp_path)
    assert str(error.value).startswith("models/m.sql:8: SQL syntax error")


def test_a_model_must_be_one_select(tmp_path: Path) -> None:
    write_project(tmp_path, {"models/m.sql": "select 1 as a;\ndelete from t"})
    with pytest.raises(SqlSyntaxError, match=r"models/m.sql: a model must be exactly one SELECT"):
        load_project(tmp_path)


def test_reading_a_table_no_ref_or_source_declares_is_an_error(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "models/sources.yml": RAW_SOURCE,
            "models/m.sql": """
                with recent as (
                    select * from {{ source('raw', 'prices') }}
                )
                select r.symbol, r.close / fx.rate as close_usd
                from recent as r
                join raw.fx_rates as fx on fx.quote = r.currency
            """,
        },
    )
    with pytest.raises(UndeclaredTableError) as error:
        load_project(tmp_path)
    message = str(error.value)
    assert message.startswith("models/m.sql:6: reads RAW.FX_RATES, which no ref() or source() declares")
    assert "use {{ source('raw', 'fx_rates') }}" in message


def test_cte_names_and_declared_relations_pass_the_check(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "models/sources.yml": RAW_SOURCE,
            "models/m.sql": """
                with prices as (select * from {{ source('raw', 'prices') }})
                select * from prices
            """,
        },
    )
    project = load_project(tmp_path)
    assert [c.target for c in project.models["m"].sources] == ["raw.prices"]


def test_an_unknown_source_names_the_line(tmp_path: Path) -> None:
    write_project(
        tmp_path, {"models/sources.yml": RAW_SOURCE, "models/m.sql": "select *\nfrom {{ source('raw', 'price') }}"}
    )
    with pytest.raises(UnknownSourceError, match=r"^models/m.sql:2: source\('raw', 'price'\) is not declared"):
        load_project(tmp_path)


@pytest.mark.parametrize(
    "file_name",
    ['orders"; drop table analytics.customers; --.sql', "daily orders.sql", "1st.sql", "ünïcode.sql"],
)
def test_a_file_name_that_is_not_an_identifier_cannot_reach_sql(tmp_path: Path, file_name: str) -> None:
    write_project(tmp_path, {"models/" + file_name: "select 1 as a"})
    with pytest.raises(ProjectConfigError) as error:
        load_project(tmp_path)
    assert str(error.value).startswith(f"models/{file_name}: the file name ")
    assert "is not a valid identifier" in str(error.value)


def test_a_config_schema_that_is_not_an_identifier_is_refused_at_its_line(tmp_path: Path) -> None:
    write_project(tmp_path, {"models/m.sql": "select 1 as a\n{{ config(schema='analytics; drop schema raw') }}"})
    with pytest.raises(
        ProjectConfigError, match=r"^models/m.sql:2: the schema generate_schema_name .* gave 'analytics; drop"
    ):
        load_project(tmp_path)


def test_unknown_materialization_and_config_are_refused(tmp_path: Path) -> None:
    write_project(tmp_path, {"models/m.sql": "{{ config(materialized='snapshot') }}\nselect 1 as a"})
    with pytest.raises(ProjectConfigError, match=r"^models/m.sql:1: materialized='snapshot' is not one of"):
        load_project(tmp_path)
    write_project(tmp_path, {"models/m.sql": "select 1 as a\n{{ config(persist_docs={'relation': true}) }}"})
    with pytest.raises(ProjectConfigError, match=r"^models/m.sql:2: unsupported config 'persist_docs'"):
        load_project(tmp_path)


def test_schema_file_mistakes_name_file_and_line(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "models/m.sql": "select 1 as a",
            "models/schema.yml": """
                version: 2
                models:
                  - name: m
                    columns:
                      - name: a
                        data_tests:
                          - not_null
                          - unique_together
            """,
        },
    )
    with pytest.raises(SchemaFileError, match=r"^models/schema.yml:8: column 'a': unknown test 'unique_together'"):
        load_project(tmp_path)
    (tmp_path / "models/schema.yml").write_text("version: 2\nmodels:\n  - name: m\n    columns: [a\n")
    with pytest.raises(SchemaFileError, match=r"^models/schema.yml:\d+: invalid YAML"):
        load_project(tmp_path)


def test_relationships_resolve_their_target_and_depend_on_it(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "models/parent.sql": "select 1 as id",
            "models/child.sql": "select 1 as parent_id",
            "models/schema.yml": """
                version: 2
                models:
                  - name: child
                    columns:
                      - name: parent_id
                        data_tests:
                          - relationships:
                              arguments:
                                to: ref('parent')
                                field: id
                              config:
                                severity: warn
            """,
        },
    )
    (test,) = load_project(tmp_path).tests
    assert (test.name, test.to_node, test.field, test.severity) == ("relationships_parent_id", "parent", "ID", "warn")
    assert test.depends_on == ("child", "parent")
    assert str(test.to) == '"ANALYTICS"."PARENT"'


def test_selection_follows_dbt_syntax(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "models/a.sql": "select 1 as x",
            "models/b.sql": "select * from {{ ref('a') }}",
            "models/c.sql": "select * from {{ ref('b') }}",
            "models/d.sql": "select 2 as y",
        },
    )
    graph = load_project(tmp_path).graph
    assert select(graph, None) == {"a", "b", "c", "d"}
    assert select(graph, ["+b"]) == {"a", "b"}
    assert select(graph, ["b+"]) == {"b", "c"}
    assert select(graph, ["a+1"]) == {"a", "b"}
    assert select(graph, ["c d"]) == {"c", "d"}
    assert select(graph, ["+c", "d"]) == {"a", "b", "c", "d"}
    with pytest.raises(SelectionError, match="matches no model or seed; did you mean b"):
        select(graph, ["bb"])
    with pytest.raises(SelectionError, match="cannot read selector"):
        select(graph, ["tag:nightly"])


def test_line_map_follows_removed_and_rewritten_lines() -> None:
    source = "a\n{% if x %}\nb\n{% endif %}\nc {{ ref('x') }}\nd\n"
    rendered = 'a\n\nc "S"."X"\nd\n'
    assert [source_line(source, rendered, n) for n in (1, 3, 4)] == [1, 5, 6]


def test_the_engine_and_its_cli_do_not_import_dagster() -> None:
    code = "import sys, dbt_like_sql.cli, dbt_like_sql.engine; print(sorted(m for m in sys.modules if 'dagster' in m))"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_DIR.parent)
    assert (found.returncode, found.stdout.strip()) == (0, "[]"), found.stderr
