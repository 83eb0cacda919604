"""Macros, custom generic tests, singular tests and docs blocks, built and run on the local Snowflake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dbt_like_sql.engine import (
    SchemaFileError,
    SnowflakeAdapter,
    TemplateError,
    build_model,
    load_project,
    load_seed,
    run_project,
)
from tests.dbt_like_sql.conftest import write_project

ORDERS = "order_id,customer,amount_cents,status\n1,ann,1050,placed\n2,bob,-200,returned\n3,cat,99,shipped\n"

MONEY = """
{% macro cents_to_dollars(column, scale=2) -%}
    round({{ column }} / 100.0, {{ scale }})
{%- endmacro %}

{% macro positive_only(column) -%}
    {{ return('case when ' ~ column ~ ' > 0 then ' ~ column ~ ' end') }}
{%- endmacro %}
"""

LABELS = """
{% macro dollars_label(column) -%}
    '$' || {{ cents_to_dollars(column) }}
{%- endmacro %}
"""


def rows(adapter: SnowflakeAdapter, sql: str) -> list[tuple[Any, ...]]:
    return adapter.execute(sql)[1]


def test_a_model_calls_macros_that_call_each_other_across_files(
    tmp_path: Path, adapter: SnowflakeAdapter, schema: str
) -> None:
    files = {
        "seeds/orders.csv": ORDERS,
        "macros/money.sql": MONEY,
        "macros/labels.sql": LABELS,
        "models/order_dollars.sql": """
            {{ config(materialized='table') }}
            select order_id,
                   {{ cents_to_dollars('amount_cents') }} as dollars,
                   {{ cents_to_dollars('amount_cents', scale=0) }} as whole_dollars,
                   {{ positive_only('amount_cents') }} as paid_cents,
                   {{ dollars_label('amount_cents') }} as label
            from {{ ref('orders') }}
        """,
    }
    project = load_project(write_project(tmp_path, files, schema))
    assert [c.target for c in project.models["order_dollars"].refs] == ["orders"], "a ref() in a macro is recorded too"
    load_seed(adapter, project.seeds["orders"])
    build_model(adapter, project, "order_dollars")
    found = rows(
        adapter, f'SELECT order_id, dollars, whole_dollars, paid_cents FROM "{schema}"."ORDER_DOLLARS" ORDER BY 1'
    )
    assert [(i, float(d), float(w), p) for i, d, w, p in found] == [
        (1, 10.5, 11.0, 1050),
        (2, -2.0, -2.0, None),
        (3, 0.99, 1.0, 99),
    ]
    labels = [r[0] for r in rows(adapter, f'SELECT label FROM "{schema}"."ORDER_DOLLARS" ORDER BY order_id')]
    assert [float(label.lstrip("$")) for label in labels] == [10.5, -2.0, 0.99]


def test_an_error_inside_a_macro_names_the_macro_line_and_the_callers(tmp_path: Path) -> None:
    files = {
        "macros/money.sql": "{% macro cents_to_dollars(column) -%}\n\n"
        "  round({{ column }} / {{ divisor }})\n{%- endmacro %}",
        "macros/labels.sql": LABELS,
        "models/m.sql": "select\n  {{ dollars_label('amount') }} as label\nfrom {{ ref('s') }}",
        "seeds/s.csv": "amount\n1\n",
    }
    write_project(tmp_path, files)
    with pytest.raises(TemplateError) as error:
        load_project(tmp_path)
    assert str(error.value) == (
        "models/m.sql:2: Jinja error: 'divisor' is undefined (in macros/money.sql:3, called from macros/labels.sql:2)"
    )

    (tmp_path / "macros/money.sql").write_text(
        "{% macro cents_to_dollars(column) -%}\n  {{ exceptions.raise_compiler_error('no column ' ~ column) }}\n"
        "{%- endmacro %}"
    )
    with pytest.raises(TemplateError) as error:
        load_project(tmp_path)
    assert str(error.value) == (
        "models/m.sql:2: no column amount (in macros/money.sql:2, called from macros/labels.sql:2)"
    )

    (tmp_path / "macros/money.sql").write_text("{% macro cents_to_dollars(column) %}\n{% if %}{% endmacro %}")
    with pytest.raises(TemplateError, match=r"^macros/money.sql:2: Jinja syntax error"):
        load_project(tmp_path)

    (tmp_path / "macros/money.sql").write_text("{% macro dollars_label(c) %}{% endmacro %}")
    with pytest.raises(Exception, match=r"^macros/money.sql:1: macro 'dollars_label' is defined twice"):
        load_project(tmp_path)


GENERIC_TESTS = {
    "macros/tests.sql": """
        {% test is_positive(model, column_name) %}
        select {{ column_name }} from {{ model }} where {{ column_name }} <= 0
        {% endtest %}
    """,
    "tests/generic/at_least.sql": """
        {% test row_count_at_least(model, minimum=1) %}
        select count(*) as found from {{ model }} having count(*) < {{ minimum }}
        {% endtest %}
    """,
    "tests/big_orders_are_placed.sql": """
        {{ config(severity='warn') }}
        -- an order over $10 that was not placed
        select o.order_id
        from {{ ref('orders') }} as o
        join {{ ref('order_totals') }} as t on t.order_id = o.order_id
        where t.dollars > 10 and o.status <> 'placed'
    """,
    "tests/no_negative_totals.sql": "select * from {{ ref('order_totals') }} where dollars < 0",
    "models/order_totals.sql": "select order_id, amount_cents / 100.0 as dollars from {{ ref('orders') }}",
    "seeds/orders.csv": ORDERS,
    "models/schema.yml": """
        version: 2
        models:
          - name: order_totals
            tests:
              - row_count_at_least:
                  minimum: 3
              - row_count_at_least:
                  name: at_least_four_orders
                  arguments: {minimum: 4}
                  config: {severity: warn}
            columns:
              - name: dollars
                tests: [is_positive, not_null]
    """,
}


def test_custom_generic_and_singular_tests_count_the_failing_rows(
    tmp_path: Path, adapter: SnowflakeAdapter, schema: str
) -> None:
    project = load_project(write_project(tmp_path, GENERIC_TESTS, schema))
    tests = {t.name: t for t in project.tests}
    assert sorted(tests) == [
        "at_least_four_orders",
        "big_orders_are_placed",
        "is_positive_dollars",
        "no_negative_totals",
        "not_null_dollars",
        "row_count_at_least",
    ]
    assert tests["big_orders_are_placed"].node == "order_totals", "a singular test belongs to the last node it reads"
    assert tests["big_orders_are_placed"].depends_on == ("order_totals", "orders")
    assert tests["is_positive_dollars"].location == "models/schema.yml:13"

    outcomes = {o.name: o for o in run_project(adapter, project, "build", set(project.graph.nodes))}
    statuses = {name: o.status for name, o in outcomes.items() if o.kind == "test"}
    assert statuses == {
        "row_count_at_least": "pass",  # three orders, at least three wanted
        "at_least_four_orders": "warn",
        "is_positive_dollars": "fail",  # order 2: -2.00
        "not_null_dollars": "pass",
        "no_negative_totals": "fail",
        "big_orders_are_placed": "pass",  # order 1 is over $10 and placed
    }
    assert outcomes["is_positive_dollars"].result.failures == 1  # type: ignore[union-attr]
    assert "failed: 1 failing row(s)" in outcomes["no_negative_totals"].message
    assert outcomes["no_negative_totals"].message.startswith("tests/no_negative_totals.sql: test no_negative_totals")


def test_test_declarations_that_cannot_work_name_file_and_line(tmp_path: Path) -> None:
    files = dict(GENERIC_TESTS)
    files["models/schema.yml"] = GENERIC_TESTS["models/schema.yml"].replace("is_positive, not_null", "is_postive")
    write_project(tmp_path, files)
    with pytest.raises(SchemaFileError, match=r"^models/schema.yml:13: column 'dollars': unknown test 'is_postive'"):
        load_project(tmp_path)
    files["models/schema.yml"] = "version: 2\nmodels:\n  - name: order_totals\n    tests: [row_count_at_least]\n"
    files["tests/generic/at_least.sql"] = "{% test row_count_at_least(model, minimum) %}select 1{% endtest %}"
    write_project(tmp_path, files)
    with pytest.raises(
        SchemaFileError,
        match=r"^models/schema.yml:4: row_count_at_least \(tests/generic/at_least.sql:1\) needs argument\(s\) minimum",
    ):
        load_project(tmp_path)
    files["tests/generic/at_least.sql"] = GENERIC_TESTS["tests/generic/at_least.sql"]
    files["tests/no_negative_totals.sql"] = "select 1 as one"
    write_project(tmp_path, files)
    with pytest.raises(Exception, match=r"^tests/no_negative_totals.sql: a singular test must ref\(\)"):
        load_project(tmp_path)


def test_docs_blocks_become_descriptions_and_snowflake_comments(
    tmp_path: Path, adapter: SnowflakeAdapter, schema: str
) -> None:
    files = {
        "models/docs.md": """
            {% docs order_status %}
            One of placed, shipped or returned.
            {% enddocs %}

            {% docs orders_table %}The orders, one row each.{% enddocs %}
        """,
        "models/orders.sql": "{{ config(materialized='table') }}\nselect 1 as order_id, 'placed' as status",
        "models/schema.yml": """
            version: 2
            models:
              - name: orders
                description: '{{ doc("orders_table") }}'
                columns:
                  - name: status
                    description: 'Status: {{ doc("order_status") }}'
        """,
    }
    project = load_project(write_project(tmp_path, files, schema))
    model = project.models["orders"]
    assert model.description == "The orders, one row each."
    assert model.columns[0].description == "Status: One of placed, shipped or returned."
    build_model(adapter, project, "orders")
    _, found = adapter.execute(
        "SELECT comment FROM information_schema.tables WHERE table_schema = %s AND table_name = 'ORDERS'", (schema,)
    )
    assert found == [("The orders, one row each.",)]

    files["models/schema.yml"] = files["models/schema.yml"].replace('doc("order_status")', 'doc("order_stats")')
    write_project(tmp_path, files, schema)
    with pytest.raises(
        SchemaFileError, match=r"^models/schema.yml:3: doc\('order_stats'\) names no docs block; did you"
    ):
        load_project(tmp_path)
