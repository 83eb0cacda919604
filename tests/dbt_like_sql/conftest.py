"""Fixtures for the SQL engine: the local Snowflake through the platform's resource, small projects.

Each test that builds something gets a schema of its own, so tests neither see nor clobber
each other's tables, and a project folder written from a dict of files.
"""

from __future__ import annotations

import shutil
import textwrap
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from dbt_like_sql import PROJECT_DIR
from dbt_like_sql.engine import SnowflakeAdapter
from local_stack.stack import LocalStack
from platform_defs.resources import build_resources
from platform_defs.resources.warehouse import SnowflakeResource
from platform_defs.settings import load_settings

SCHEMA_NAME_MACRO = "macros/generate_schema_name.sql"


def local_snowflake_output(schema_variable: str) -> str:
    """A profiles.yml output (indented under `outputs: <name>:`) reaching the local Snowflake through
    the variables the local stack exports; the schema is read from `schema_variable`."""
    return LOCAL_SNOWFLAKE_OUTPUT.replace("SCHEMA_VARIABLE", schema_variable)


LOCAL_SNOWFLAKE_OUTPUT = """      type: snowflake
      account: "{{ env_var('SNOWFLAKE_ACCOUNT') }}"
      user: "{{ env_var('SNOWFLAKE_USER') }}"
      password: "{{ env_var('SNOWFLAKE_PASSWORD') }}"
      database: "{{ env_var('SNOWFLAKE_DATABASE') }}"
      warehouse: "{{ env_var('SNOWFLAKE_WAREHOUSE') }}"
      schema: "{{ env_var('SCHEMA_VARIABLE') }}"
      host: "{{ env_var('SNOWFLAKE_HOST') }}"
      port: "{{ env_var('SNOWFLAKE_PORT') }}"
      protocol: "{{ env_var('SNOWFLAKE_PROTOCOL') }}"
"""


@pytest.fixture(scope="session")
def snowflake(local_stack: LocalStack) -> Iterator[SnowflakeResource]:
    """The platform's Snowflake resource, initialised (the local one creates its database)."""
    with dg.build_resources({"snowflake": build_resources(load_settings())["snowflake"]}) as resources:
        yield resources.snowflake


@pytest.fixture(scope="session")
def connection(snowflake: SnowflakeResource) -> Iterator[Any]:
    with snowflake.get_connection() as conn:
        yield conn


@pytest.fixture
def adapter(connection: Any) -> SnowflakeAdapter:
    return SnowflakeAdapter(connection)


@pytest.fixture
def schema() -> str:
    return f"T_{uuid.uuid4().hex[:10].upper()}"


def write_project(
    root: Path, files: Mapping[str, str], schema: str = "ANALYTICS", schema_as_configured: bool = True
) -> Path:
    """A project folder with a dbt_project.yml building into `schema`, plus `files` (path -> text).

    `schema_as_configured`: with Baton's own `generate_schema_name`, which takes a configured
    schema as it is; without it, dbt's default names schemas `<target schema>_<configured>`.
    """
    root.mkdir(parents=True, exist_ok=True)
    if "dbt_project.yml" not in files:
        sections = "".join(f"{section}:\n  +schema: {schema}\n" for section in ("models", "seeds", "snapshots"))
        (root / "dbt_project.yml").write_text(f"name: testing\n{sections}")
    if schema_as_configured:
        (root / "macros").mkdir(exist_ok=True)
        shutil.copy(PROJECT_DIR / SCHEMA_NAME_MACRO, root / SCHEMA_NAME_MACRO)
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root
