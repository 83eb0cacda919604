"""Bad input reaching the platform's side: the lake's raw chunks, partitions and datasets that do not exist.

The table of these cases (and of the worker's, in tests/lambda_workers/test_bad_input.py) is
docs/bad-input.md. Each test asserts the error's words and that nothing was lost: a lake build
that refuses leaves the partition's Parquet parts exactly as they were, and a run for a partition
that does not exist starts no chain.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import dagster as dg
import pytest

from lambda_workers.chain.chunk_keys import ChunkKey
from lambda_workers.chain.chunks import encode_jsonl
from lambda_workers.chain.cursor_store import SsmCursorStore
from lambda_workers.events import ChainAddress
from local_stack.stack import LocalStack
from platform_defs.cli import main
from platform_defs.datasets import DATASETS
from platform_defs.lake import LakeInputError, build_lake_partition, lake_files
from platform_defs.resources.build import build_resources
from platform_defs.settings import load_settings

FX = DATASETS["fx_rates"]
DAY = "2025-06-02"
CHAIN_ID = "20250602T000000Z-bad00001"


def fx_rows(*quotes: str) -> list[dict[str, Any]]:
    return [{"date": DAY, "base": "USD", "quote": quote, "rate": 1.5} for quote in quotes]


def put_chunk(s3: Any, bucket: str, row_from: int, rows: list[dict[str, Any]]) -> str:
    """A raw chunk as the worker writes it (gzip JSON Lines under its chunk key)."""
    key = ChunkKey(FX.raw_prefix(DAY), CHAIN_ID, row_from, row_from + len(rows)).key
    s3.put_object(Bucket=bucket, Key=key, Body=encode_jsonl(rows))
    return key


def parts(s3: Any, bucket: str, partition: str = DAY) -> dict[str, str]:
    """The lake partition's Parquet parts and their ETags: equal before and after means untouched."""
    return {key: s3.head_object(Bucket=bucket, Key=key)["ETag"] for key in lake_files(s3, bucket, FX, partition)}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not gzip at all", "corrupt gzip (Not a gzipped file (b'no'))"),
        (encode_jsonl([{"quote": "EUR"}])[:-12], "corrupt gzip (Compressed file ended before the end-of-stream marker"),
        (None, "line 2 is not JSON (Expecting value: line 1 column 1 (char 0))"),
    ],
    ids=["not gzip", "truncated gzip", "a line that is not JSON"],
)
def test_a_corrupt_raw_chunk_is_named_and_the_lake_partition_is_left_as_it_was(
    body: bytes | None, problem: str, lake: tuple[Any, str]
) -> None:
    s3, bucket = lake
    put_chunk(s3, bucket, 0, fx_rows("EUR", "GBP"))
    second = put_chunk(s3, bucket, 2, fx_rows("JPY", "CHF"))
    built = build_lake_partition(s3, bucket, FX, FX.raw_prefix(DAY), DAY)
    assert built.lake_rows == 4
    before = parts(s3, bucket)
    if body is None:
        body = gzip.compress(b'{"date":"2025-06-02","quote":"JPY"}\nnot json\n', mtime=0)
    s3.put_object(Bucket=bucket, Key=second, Body=body)
    with pytest.raises(LakeInputError) as raised:
        build_lake_partition(s3, bucket, FX, FX.raw_prefix(DAY), DAY)
    assert str(raised.value).startswith(f"s3://{bucket}/{second}: {problem}")
    assert parts(s3, bucket) == before, "the refused build wrote nothing"
    assert [k for k in s3.list_objects_v2(Bucket=bucket).get("Contents", []) if "lake-rejects" in k["Key"]] == []


def test_a_partition_whose_raw_data_is_gone_does_not_empty_its_lake_partition(lake: tuple[Any, str]) -> None:
    """Raw chunks expired or deleted: rebuilding would replace the lake's rows, then Snowflake's, with nothing."""
    s3, bucket = lake
    key = put_chunk(s3, bucket, 0, fx_rows("EUR", "GBP"))
    build_lake_partition(s3, bucket, FX, FX.raw_prefix(DAY), DAY)
    before = parts(s3, bucket)
    s3.delete_object(Bucket=bucket, Key=key)
    with pytest.raises(LakeInputError) as raised:
        build_lake_partition(s3, bucket, FX, FX.raw_prefix(DAY), DAY)
    assert str(raised.value) == (
        f"no raw chunks under s3://{bucket}/raw/markets/fx_rates/{DAY}/, but s3://{bucket}/lake/fx_rates/{DAY}/ "
        "holds 2 rows: refusing to replace them with nothing (extract the partition again first)"
    )
    assert parts(s3, bucket) == before


def test_a_partition_that_never_had_rows_builds_empty(lake: tuple[Any, str]) -> None:
    """A chain that found nothing writes no chunk; its lake partition is rightly empty, not an error."""
    s3, bucket = lake
    built = build_lake_partition(s3, bucket, FX, FX.raw_prefix("2025-06-03"), "2025-06-03")
    assert (built.raw_rows, built.lake_rows, built.chunks, len(built.files)) == (0, 0, 0, 1)


def _weekday_next_year() -> str:
    day = datetime.now(UTC).date() + timedelta(days=365)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day.isoformat()


@pytest.mark.parametrize("key", ["2025-06-07", _weekday_next_year(), "2025-13-45"], ids=["saturday", "future", "junk"])
def test_a_run_for_a_partition_that_does_not_exist_is_refused_before_any_chain(
    key: str, local_stack: LocalStack
) -> None:
    """Dagster checks the key against the dataset's partitions (weekdays since 2024, none ahead of today)."""
    from platform_defs.definitions import defs

    with pytest.raises(dg.DagsterUnknownPartitionError, match=f"Could not find a partition with key `{key}`"):
        dg.materialize(
            list(defs.assets or []),
            selection=dg.AssetSelection.assets(dg.AssetKey(["raw", "prices"])),
            resources=defs.resources,
            partition_key=key,
        )
    settings = load_settings()
    store = SsmCursorStore(boto3.client("ssm"))
    assert store.load(settings.deployment, ChainAddress("prices", key)) == (None, False)


def test_a_chain_event_for_a_partition_that_is_not_a_day_names_it(local_stack: LocalStack) -> None:
    chains = build_resources(load_settings())["chains"]
    with pytest.raises(ValueError, match=r"^partition 'last-tuesday' is not a day \(YYYY-MM-DD\) of a daily dataset$"):
        chains.start_event(DATASETS["prices"], ChainAddress("prices", "last-tuesday"), "lake")
    assert chains.start_event(DATASETS["prices"], ChainAddress("prices", DAY), "lake").source["params"]["from"] == DAY


def test_the_cli_names_a_dataset_that_does_not_exist(
    local_stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo must not read as "no chains": listing or halting one says there is no such dataset."""
    datasets = ", ".join(sorted(DATASETS))
    assert main(["chains", "list", "--asset", "pricez"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"baton: no chain of 'pricez'; and there is no dataset 'pricez' (the datasets are {datasets})"
    )
    assert main(["chains", "halt", "pricez", DAY]) == 1
    deployment = load_settings().deployment
    assert capsys.readouterr().err.strip() == (
        f"baton: no chain pricez/{DAY} in deployment {deployment}; "
        f"and there is no dataset 'pricez' (the datasets are {datasets})"
    )
    assert not SsmCursorStore(boto3.client("ssm")).halt_requested(deployment, ChainAddress("pricez", DAY))
