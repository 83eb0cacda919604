"""Raw chunks from a real chain become typed lake Parquet, then Snowflake rows; every row accounted for."""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import io
import uuid
from typing import Any

import pyarrow.parquet as pq
import pytest
import snowflake.connector

from lambda_workers.chain.link_result import LinkResult
from lambda_workers.chain.status import ChainStatus
from lambda_workers.handler import lambda_handler
from local_stack.stack import LocalStack
from platform_defs.datasets import DATASETS
from platform_defs.lake import build_lake_partition
from platform_defs.settings import load_settings
from platform_defs.warehouse import ensure_stage, load_partition
from tests.lambda_workers.conftest import DeadlineContext

HEADER = "action_id,symbol,ex_date,action_type,ratio,amount,currency\n"


@pytest.fixture
def warehouse(local_stack: LocalStack) -> Any:
    env = local_stack.environment()
    conn = snowflake.connector.connect(
        host=env["SNOWFLAKE_HOST"],
        port=int(env["SNOWFLAKE_PORT"]),
        protocol=env["SNOWFLAKE_PROTOCOL"],
        account="baton",
        user="baton",
        password="x",
        database="BATON",
        network_timeout=120,
    )
    conn.cursor().execute("CREATE SCHEMA IF NOT EXISTS BATON.RAW")
    yield conn
    conn.close()


def extract(s3: Any, bucket: str, files: dict[str, str]) -> LinkResult:
    for name, body in files.items():
        s3.put_object(Bucket=bucket, Key=f"landing/corporate_actions/{name}", Body=body.encode())
    dataset = DATASETS["corporate_actions"]
    event = {
        "version": 1,
        "action": "start",
        "deployment": f"t{uuid.uuid4().hex[:8]}",
        "chain": {"asset": dataset.name, "partition": "all"},
        "mode": "driven",
        "max_links": 10,
        "source": {"kind": "s3_feed", "bucket": bucket, "prefix": "landing/corporate_actions/", "format": "csv"},
        "sink": {"bucket": bucket, "prefix": dataset.raw_prefix("all")},
        "quarantine_prefix": dataset.quarantine_prefix("all"),
        "validation": dataset.validation,
    }
    result = LinkResult.from_payload(lambda_handler(event, DeadlineContext(10_000)))
    assert result.status == ChainStatus.DONE
    return result


def test_every_raw_row_is_in_the_lake_or_accounted_for(lake: tuple[Any, str]) -> None:
    s3, bucket = lake
    extracted = extract(
        s3,
        bucket,
        {
            "2024-01-02.csv": HEADER
            + "A1,SYM1,2024-01-02,split,2,,\n"
            + "A2,SYM2,2024-01-02,dividend,,0.25,USD\n"
            + "A3,,2024-01-02,split,2,,\n",  # no symbol: the worker quarantines it
            "2024-01-03.csv": HEADER
            + "A4,SYM4,2024-13-45,split,3,,\n"  # not a date: the lake rejects it
            + "A2,SYM2,2024-01-02,dividend,,0.30,USD\n",  # A2 delivered again: the newer one wins
        },
    )
    dataset = DATASETS["corporate_actions"]
    build = build_lake_partition(s3, bucket, dataset, dataset.raw_prefix("all"), "all")
    assert (build.raw_rows, build.quarantined, build.rejected, build.duplicates, build.lake_rows) == (5, 1, 1, 1, 2)
    assert build.raw_rows == extracted.rows
    assert build.raw_rows == build.lake_rows + build.quarantined + build.rejected + build.duplicates
    table = pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=build.files[0])["Body"].read()))
    assert str(table.schema.field("ex_date").type) == "date32[day]"
    assert str(table.schema.field("amount").type) == "double"
    rows = {r["action_id"]: r for r in table.to_pylist()}
    assert set(rows) == {"A1", "A2"} and rows["A2"]["amount"] == 0.30
    rejects = s3.get_object(Bucket=bucket, Key="quarantine/markets/corporate_actions/all/lake-rejects.jsonl.gz")
    assert b"'ex_date' is not a valid date" in gzip.decompress(rejects["Body"].read())


def test_loading_a_partition_twice_replaces_it(lake: tuple[Any, str], warehouse: Any) -> None:
    s3, bucket = lake
    extract(s3, bucket, {"2024-01-02.csv": HEADER + "A1,SYM1,2024-01-02,split,2,,\nA2,SYM2,2024-01-02,split,3,,\n"})
    dataset = dataclasses.replace(DATASETS["corporate_actions"], name=f"ca_{uuid.uuid4().hex[:8]}")
    source = DATASETS["corporate_actions"]
    build = build_lake_partition(s3, bucket, dataset, source.raw_prefix("all"), "all")
    platform_lake = load_settings().lake_bucket  # the session's stage points at the platform's lake
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=platform_lake)
    for key in build.files:
        s3.copy_object(Bucket=platform_lake, Key=key, CopySource={"Bucket": bucket, "Key": key})
    cur = warehouse.cursor()
    ensure_stage(cur, platform_lake, None)
    with pytest.raises(RuntimeError, match="points at s3://baton-lake/lake/, not at the lake s3://elsewhere/lake/"):
        ensure_stage(cur, "elsewhere", None)
    first = load_partition(warehouse, dataset, "all", build.files)  # no table yet: the first load creates it
    second = load_partition(warehouse, dataset, "all", build.files)
    assert (first.rows_loaded, first.rows_in_partition) == (2, 2)
    assert (second.rows_loaded, second.rows_in_partition) == (2, 2)
    cur.execute(f"SELECT ACTION_ID, EX_DATE, RATIO FROM {dataset.table} ORDER BY 1")
    assert [(r[0], str(r[1]), r[2]) for r in cur.fetchall()] == [("A1", "2024-01-02", 2.0), ("A2", "2024-01-02", 3.0)]
