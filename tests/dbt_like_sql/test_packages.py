"""Local packages: `baton sql deps` installs them, their macros are called as `package.macro()`."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbt_like_sql.engine import ProjectConfigError, SnowflakeAdapter, load_project, run_project
from platform_defs.cli import main as baton
from tests.dbt_like_sql.conftest import write_project

PACKAGE = {
    "dbt_project.yml": "name: money_utils\nmacro-paths: [lib]\n",
    "lib/money.sql": """
        {% macro minor_units(code) -%}
            case {{ code }} when 'JPY' then 1 when 'KWD' then 1000 else 100 end
        {%- endmacro %}

        {% macro to_major(amount, code) -%}
            {{ amount }} / {{ minor_units(code) }}
        {%- endmacro %}
    """,
    "tests/generic/is_even.sql": """
        {% test is_even(model, column_name) %}
        select {{ column_name }} from {{ model }} where mod({{ column_name }}, 2) <> 0
        {% endtest %}
    """,
}

PROJECT = {
    "packages.yml": "packages:\n  - local: ../money_utils\n",
    "seeds/payments.csv": "payment_id,amount_minor,currency\n1,1050,USD\n2,500,JPY\n3,12345,KWD\n",
    "models/payments_major.sql": """
        {{ config(materialized='table') }}
        select payment_id, {{ money_utils.to_major('amount_minor', 'currency') }} as amount
        from {{ ref('payments') }}
    """,
    "models/schema.yml": """
        version: 2
        seeds:
          - name: payments
            columns:
              - name: payment_id
                tests:
                  - money_utils.is_even:
                      config: {severity: warn}
    """,
}


def test_deps_installs_a_local_package_whose_macros_and_tests_the_project_calls(
    tmp_path: Path, adapter: SnowflakeAdapter, schema: str
) -> None:
    write_project(tmp_path / "money_utils", PACKAGE, schema_as_configured=False)
    project_dir = write_project(tmp_path / "shop", PROJECT, schema)
    with pytest.raises(
        ProjectConfigError, match=r"^packages.yml:2: package 'money_utils' is not installed in dbt_packages/"
    ):
        load_project(project_dir)

    assert baton(["sql", "deps", "--project-dir", str(project_dir)]) == 0
    assert (project_dir / "dbt_packages/money_utils").resolve() == (tmp_path / "money_utils").resolve()
    assert baton(["sql", "deps", "--project-dir", str(project_dir)]) == 0, "deps again replaces the link"

    project = load_project(project_dir)
    assert "/ case currency when 'JPY' then 1" in project.models["payments_major"].compiled_sql
    outcomes = {o.name: o for o in run_project(adapter, project, "build", set(project.graph.nodes))}
    assert outcomes["payments_major"].status == "success"
    assert outcomes["money_utils_is_even_payment_id"].status == "warn"  # payments 1 and 3 are odd
    assert outcomes["money_utils_is_even_payment_id"].result.failures == 2  # type: ignore[union-attr]
    _, found = adapter.execute(f'SELECT payment_id, amount FROM "{schema}"."PAYMENTS_MAJOR" ORDER BY 1')
    assert [(i, float(a)) for i, a in found] == [(1, 10.5), (2, 500.0), (3, 12.345)]


@pytest.mark.parametrize(
    ("entry", "named", "where"),
    [
        ("- package: dbt-labs/dbt_utils\n    version: 1.3.0", "dbt-labs/dbt_utils", "dbt Hub"),
        (
            "- git: https://github.com/dbt-labs/dbt-codegen.git\n    revision: 0.13.1",
            "https://github.com/dbt-labs",
            "git",
        ),
    ],
)
def test_hub_and_git_packages_are_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: str, named: str, where: str
) -> None:
    project_dir = write_project(tmp_path, {"packages.yml": f"packages:\n  {entry}\n", "models/m.sql": "select 1 as a"})
    assert baton(["sql", "deps", "--project-dir", str(project_dir)]) == 1
    message = capsys.readouterr().err
    assert f"packages.yml:2: package '{named}" in message and f"comes from {where}, which cannot be fetched" in message
    with pytest.raises(ProjectConfigError, match="cannot be fetched here"):
        load_project(project_dir)
