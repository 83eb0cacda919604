"""Targets and profiles: `target` in templates, dbt's schema naming and its override, profiles.yml."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from dbt_like_sql.cli import main
from dbt_like_sql.engine import ProjectConfigError, SnowflakeAdapter, Target, load_project
from platform_defs.cli import main as baton
from platform_defs.resources.warehouse import SnowflakeResource
from tests.dbt_like_sql.conftest import local_snowflake_output, write_project

PROJECT = {
    "dbt_project.yml": """
        name: shop
        profile: shop
        models:
          shop:
            marts:
              +schema: sales
    """,
    "models/staging/stg_orders.sql": "select '{{ target.name }}' as built_for, '{{ target.schema }}' as home",
    "models/marts/orders.sql": "select built_for, home from {{ ref('stg_orders') }}",
}


def test_dbt_default_schema_names_prefix_the_target_schema(tmp_path: Path) -> None:
    write_project(tmp_path, PROJECT, schema_as_configured=False)
    target = Target(name="ci", schema="DEV_ANN", database="SHOP")
    project = load_project(tmp_path, target=target)
    assert project.models["stg_orders"].relation.display == "DEV_ANN.STG_ORDERS"
    assert project.models["orders"].relation.display == "DEV_ANN_SALES.ORDERS"
    assert "select 'ci' as built_for, 'DEV_ANN' as home" in project.models["stg_orders"].compiled_sql


def test_a_project_macro_named_generate_schema_name_decides_instead(tmp_path: Path) -> None:
    files = {
        **PROJECT,
        "macros/schemas.sql": """
            {% macro generate_schema_name(custom_schema_name, node) -%}
              {%- if target.name == 'prod' and custom_schema_name -%}{{ custom_schema_name | upper }}
              {%- else -%}{{ target.schema }}{%- endif -%}
            {%- endmacro %}
        """,
    }
    write_project(tmp_path, files, schema_as_configured=False)
    dev = load_project(tmp_path, target=Target(name="dev", schema="DEV_ANN", database="SHOP"))
    prod = load_project(tmp_path, target=Target(name="prod", schema="ANALYTICS", database="SHOP"))
    assert dev.models["orders"].relation.display == "DEV_ANN.ORDERS"
    assert prod.models["orders"].relation.display == "SALES.ORDERS"
    assert prod.models["stg_orders"].relation.display == "ANALYTICS.STG_ORDERS"


PROFILES = (
    """
shop:
  target: dev
  outputs:
    dev:
      type: snowflake
      account: acme-dev
      user: ann
      password: "{{ env_var('SHOP_DEV_PASSWORD', 'none') }}"
      database: SHOP_DEV
      warehouse: DEV_WH
      schema: DEV_ANN
    local:
"""
    + local_snowflake_output("SHOP_SCHEMA")
    + """      threads: 4
"""
)


def test_profiles_are_read_as_dbt_reads_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project_dir = write_project(tmp_path / "shop", PROJECT, schema_as_configured=False)
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "profiles.yml").write_text(PROFILES)
    fallback = Target(name="platform", schema="PUBLIC", database="BATON")
    monkeypatch.chdir(tmp_path)
    assert load_project(project_dir, target=fallback).target == fallback, "no profiles.yml found: the caller's target"

    dev = load_project(project_dir, target=fallback, profiles_dir=profiles)
    assert (dev.target.name, dev.target.schema, dev.target.database, dev.target.profile_name) == (
        "dev",
        "DEV_ANN",
        "SHOP_DEV",
        "shop",
    )
    assert dev.target.connection["password"] == "none", "env_var's default"
    assert dev.models["orders"].relation.display == "DEV_ANN_SALES.ORDERS"

    monkeypatch.setenv("DBT_PROFILES_DIR", str(profiles))
    variables = {"ACCOUNT": "acme", "USER": "ci", "PASSWORD": "pw", "DATABASE": "SHOP", "WAREHOUSE": "CI_WH"}
    variables |= {"HOST": "127.0.0.1", "PORT": "8123", "PROTOCOL": "http"}
    for name, value in variables.items():
        monkeypatch.setenv(f"SNOWFLAKE_{name}", value)
    monkeypatch.setenv("SHOP_SCHEMA", "CI_RUN")
    local = load_project(project_dir, target=fallback, target_name="local")
    assert (local.target.name, local.target.schema, local.target.threads) == ("local", "CI_RUN", 4)
    assert dict(local.target.connection) == {
        "account": "acme",
        "user": "ci",
        "password": "pw",
        "database": "SHOP",
        "warehouse": "CI_WH",
        "schema": "CI_RUN",
        "host": "127.0.0.1",
        "port": 8123,
        "protocol": "http",
    }
    assert "password" not in local.target.context(), "templates never see the password"

    monkeypatch.delenv("SHOP_SCHEMA")
    with pytest.raises(
        ProjectConfigError, match=r"profiles.yml:\d+: env_var\('SHOP_SCHEMA'\): the variable is not set"
    ):
        load_project(project_dir, target=fallback, target_name="local")
    with pytest.raises(
        ProjectConfigError, match=r"profiles.yml:3: profile 'shop' has no output 'prod'; its outputs: dev, local"
    ):
        load_project(project_dir, target=fallback, target_name="prod")
    with pytest.raises(ProjectConfigError, match=r"^--profiles-dir .*nowhere: no profiles.yml there"):
        load_project(project_dir, target=fallback, profiles_dir=tmp_path / "nowhere")


def test_a_build_connects_with_the_profiles_target(
    tmp_path: Path,
    snowflake: SnowflakeResource,
    adapter: SnowflakeAdapter,
    schema: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`build --target local` connects through the profile (no connection handed in) and builds in its schema."""
    project_dir = write_project(tmp_path / "shop", PROJECT, schema_as_configured=False)
    (tmp_path / "profiles.yml").write_text(PROFILES)
    monkeypatch.setenv("SHOP_SCHEMA", schema)
    arguments = ["--project-dir", str(project_dir), "--profiles-dir", str(tmp_path), "--target", "local"]
    assert main(["build", *arguments]) == 0
    found: list[tuple[Any, ...]] = adapter.execute(f'SELECT built_for, home FROM "{schema}_SALES"."ORDERS"')[1]
    assert found == [("local", schema)]

    # Baton's command takes the same flags; without a profile it builds on the platform's target.
    assert baton(["sql", "run", *arguments]) == 0
    plain = write_project(tmp_path / "plain", {"models/m.sql": "select '{{ target.name }}' as env"}, schema)
    assert baton(["sql", "run", "--project-dir", str(plain)]) == 0
    assert adapter.execute(f'SELECT env FROM "{schema}"."M"')[1] == [(os.environ["BATON_ENV"],)]
