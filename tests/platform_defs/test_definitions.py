"""The code location loads, and its resources reach S3, SSM and Snowflake on the local stack."""

from __future__ import annotations

import io
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from local_stack.home import PROJECT_ROOT
from local_stack.stack import LocalStack
from platform_defs.resources import Lake
from platform_defs.resources.chains import ChainResource
from platform_defs.resources.warehouse import SnowflakeResource


@pytest.fixture(scope="module")
def definitions(local_stack: LocalStack) -> dg.Definitions:
    from platform_defs.definitions import defs

    return defs


def test_definitions_validate_as_dagster_would(definitions: dg.Definitions) -> None:
    dg.Definitions.validate_loadable(definitions)
    assert set(definitions.resources or {}) >= {"s3", "chains", "lake", "snowflake"}


def test_round_trips_through_the_resources_the_assets_use(definitions: dg.Definitions) -> None:
    token = uuid.uuid4().hex
    seen: dict[str, object] = {}

    @dg.asset
    def round_trip(lake: Lake, chains: ChainResource, snowflake: SnowflakeResource) -> None:
        key = f"raw/_probe/{token}.parquet"
        body = io.BytesIO()
        pq.write_table(pa.table({"TOKEN": [token]}), body)
        lake.client().put_object(Bucket=lake.bucket, Key=key, Body=body.getvalue())
        seen["s3"] = pq.read_table(io.BytesIO(lake.client().get_object(Bucket=lake.bucket, Key=key)["Body"].read()))
        name = f"/baton/local/_probe/{token}"
        chains.ssm().put_parameter(Name=name, Value=token, Type="SecureString", Overwrite=True)
        seen["ssm"] = chains.ssm().get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        with snowflake.get_connection() as conn, conn.cursor() as cur:
            cur.execute("CREATE OR REPLACE TABLE RAW._PROBE (TOKEN VARCHAR)")
            cur.execute("INSERT INTO RAW._PROBE VALUES (%s)", (token,))
            cur.execute("SELECT TOKEN FROM RAW._PROBE")
            seen["snowflake"] = cur.fetchall()
            cur.execute("SHOW SCHEMAS")
            seen["schemas"] = {row[1] for row in cur.fetchall()}

    result = dg.materialize([round_trip], resources=definitions.resources)
    assert result.success
    assert seen["s3"].column("TOKEN").to_pylist() == [token]  # type: ignore[attr-defined]
    assert seen["ssm"] == token
    assert seen["snowflake"] == [(token,)]
    assert {"RAW", "ANALYTICS"} <= seen["schemas"]  # type: ignore[operator]


def test_dagster_project_cli_loads_the_code_location(local_stack: LocalStack) -> None:
    """`dg check defs` and `dg list defs` work on the project ([tool.dg]), beside workspace.yaml."""
    dg_cli = str(Path(sys.executable).with_name("dg"))
    for command in (["check", "defs"], ["list", "defs", "--json"]):
        result = subprocess.run(
            [dg_cli, *command], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180, check=False
        )
        assert result.returncode == 0, result.stderr
    assert '"raw/prices"' in result.stdout or "raw/prices" in result.stdout
