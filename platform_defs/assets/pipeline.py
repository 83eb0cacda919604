"""raw (a relay chain into S3) -> lake (typed Parquet) -> warehouse (Snowflake RAW), per dataset.

One factory for every dataset in the catalogue, so each lineage step behaves the same way and
reports the same metadata whatever the source. (No `from __future__ import annotations` here:
Dagster resolves the config and resource annotations of the asset functions at definition.)
"""

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import dagster as dg
import pyarrow.parquet as pq

from lambda_workers.chain.fanout import shard_ranges
from lambda_workers.chain.link_result import LinkResult
from lambda_workers.chain.status import ChainMode
from lambda_workers.events import ChainAddress
from platform_defs.chain_metadata import ChainProgress, chain_metadata, shards_metadata
from platform_defs.dataset_spec import Sharding
from platform_defs.datasets import DATASETS, Dataset
from platform_defs.lake import build_lake_partition, lake_files
from platform_defs.resources.chains import ChainResource
from platform_defs.resources.lake import Lake
from platform_defs.resources.warehouse import SnowflakeResource
from platform_defs.warehouse import duplicate_keys, ensure_stage, load_partition

__all__ = ["ExtractionConfig", "chain_pool", "dataset_assets"]


class ExtractionConfig(dg.Config):
    full_refresh: bool = False
    shards: int = 1  # > 1: split the symbol space, one chain per shard (shardable datasets only)
    max_concurrent_shards: int = 4
    # driven: this run invokes every link and materialises when the chain is done.
    # relay: this run launches the chain and ends; the relay sensor materialises it later.
    # ChainMode's values: Dagster would take an Enum by member name, and run configs say `mode: relay`.
    mode: Literal["driven", "relay"] = "driven"
    # seconds after which a link hands on, though the function's timeout is later (more, shorter links)
    link_seconds: float | None = None


def chain_pool(dataset: Dataset) -> str:
    """One concurrency pool per vendor: its limit is how many chains may call that vendor at once."""
    return f"{dataset.vendor}_chains"


def dataset_assets(dataset: Dataset, storage_integration: str | None) -> list[dg.AssetsDefinition]:
    return [_raw_asset(dataset), _lake_asset(dataset), _warehouse_asset(dataset, storage_integration)]


def _partition(context: dg.AssetExecutionContext, dataset: Dataset) -> str | None:
    return context.partition_key if dataset.partitions else None


def _raw_asset(dataset: Dataset) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", dataset.name],
        group_name="raw",
        partitions_def=dataset.partitions,
        pool=chain_pool(dataset),
        kinds={"lambda", "s3"},
        output_required=False,
        description=f"{dataset.description} Extracted by a relay chain of Lambda links into the raw zone.",
    )
    def raw(
        context: dg.AssetExecutionContext, config: ExtractionConfig, chains: ChainResource, lake: Lake
    ) -> Iterator[dg.MaterializeResult]:
        partition = dataset.chain_partition(_partition(context, dataset), datetime.now(UTC).date())
        chain = ChainAddress(dataset.name, partition)
        if config.shards > 1 and not dataset.shardable:
            raise dg.Failure(description=f"{dataset.name} cannot be sharded")
        if config.mode == ChainMode.RELAY:
            if config.shards > 1:
                raise dg.Failure(description="relay mode runs one chain: use driven mode to shard")
            event = chains.start_event(
                dataset, chain, lake.bucket, config.full_refresh, mode=ChainMode.RELAY, link_seconds=config.link_seconds
            )
            request_id = chains.launch(event)
            context.log.info(
                f"relay chain for {chain.path()} launched (request {request_id}); the relay_chains sensor "
                "reports its links and materialises this asset when it is done"
            )
            return

        progress = ChainProgress()

        def on_link(result: LinkResult) -> None:
            context.log.info(progress.line(result))
            context.log_event(
                dg.AssetObservation(
                    asset_key=context.asset_key,
                    partition=_partition(context, dataset),
                    metadata=chain_metadata(result),
                )
            )

        if config.shards > 1:
            assert dataset.sharding is not None
            symbols = _key_space(lake, dataset.sharding)
            ranges = shard_ranges(symbols, config.shards)
            events = [
                chains.start_event(
                    dataset,
                    ChainAddress(dataset.name, partition, shard.name),
                    lake.bucket,
                    config.full_refresh,
                    key_range=(shard.first, shard.last),
                    link_seconds=config.link_seconds,
                )
                for shard in ranges
            ]
            results = chains.drive_shards(events, on_link, config.max_concurrent_shards)
        else:
            event = chains.start_event(
                dataset, chain, lake.bucket, config.full_refresh, link_seconds=config.link_seconds
            )
            results = [chains.drive(event, on_link)]
        failed = [r for r in results if not r.done]
        metadata = chain_metadata(results[0]) if len(results) == 1 else shards_metadata(results)
        if failed:
            raise dg.Failure(
                description="; ".join(f"{r.parameter} ended {r.status}: {r.last_error}" for r in failed),
                metadata=metadata,
            )
        yield dg.MaterializeResult(metadata=metadata)

    return raw


def _key_space(lake: Lake, sharding: Sharding) -> list[str]:
    """The shard key space, from the lake of the dataset the declaration names (shard bounds follow it)."""
    client = lake.client()
    dataset_files = lake_files(client, lake.bucket, DATASETS[sharding.key_dataset], "all")
    if not dataset_files:
        raise dg.Failure(
            description=f"sharding needs lake/{sharding.key_dataset}: materialise {sharding.key_dataset} first"
        )
    keys: list[str] = []
    for key in dataset_files:
        body = client.get_object(Bucket=lake.bucket, Key=key)["Body"].read()
        keys += pq.read_table(io.BytesIO(body), columns=[sharding.key_column]).column(sharding.key_column).to_pylist()
    return keys


def _lake_asset(dataset: Dataset) -> dg.AssetsDefinition:
    @dg.asset(
        key=["lake", dataset.name],
        group_name="lake",
        partitions_def=dataset.partitions,
        deps=[dg.AssetKey(["raw", dataset.name])],
        kinds={"s3", "parquet"},
        description=f"{dataset.description} Typed, deduplicated Parquet in the lake zone.",
        check_specs=[
            dg.AssetCheckSpec(
                "rows_accounted_for",
                asset=dg.AssetKey(["lake", dataset.name]),
                description="lake rows = raw rows - quarantined - rejected - duplicates",
            )
        ],
    )
    def lake_asset(context: dg.AssetExecutionContext, lake: Lake) -> dg.MaterializeResult:
        partition = _partition(context, dataset)
        client = lake.client()
        if partition is not None:
            raw_prefix, lake_partition = dataset.raw_prefix(partition), partition
        else:
            raw_prefix, lake_partition = _latest_raw_prefix(client, lake.bucket, dataset), "all"
        retention = timedelta(days=lake.superseded_raw_days)
        build = build_lake_partition(client, lake.bucket, dataset, raw_prefix, lake_partition, retention)
        accounted = build.lake_rows + build.quarantined + build.rejected + build.duplicates
        return dg.MaterializeResult(
            metadata={
                "raw_rows": build.raw_rows,
                "lake_rows": build.lake_rows,
                "quarantined": build.quarantined,
                "rejected": build.rejected,
                "duplicates": build.duplicates,
                "chunks": build.chunks,
                "superseded_chains": build.superseded_chains,
                "superseded_rows_not_read": build.superseded_rows,
                "superseded_chains_removed": build.removed_chains,
                "files": dg.MetadataValue.json(list(build.files)),
                "dagster/row_count": build.lake_rows,
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name="rows_accounted_for",
                    passed=accounted == build.raw_rows,
                    metadata={"raw_rows": build.raw_rows, "accounted": accounted},
                )
            ],
        )

    return lake_asset


def _latest_raw_prefix(client: Any, bucket: str, dataset: Dataset) -> str:
    """Snapshots: the newest day's extraction; an open feed: its single prefix."""
    if not dataset.snapshot:
        return dataset.raw_prefix("all")
    base = f"raw/{dataset.vendor}/{dataset.name}/"
    days = client.list_objects_v2(Bucket=bucket, Prefix=base, Delimiter="/").get("CommonPrefixes", [])
    if not days:
        raise dg.Failure(description=f"no snapshot of {dataset.name} under s3://{bucket}/{base}")
    return max(p["Prefix"] for p in days).rstrip("/")


def _warehouse_asset(dataset: Dataset, storage_integration: str | None) -> dg.AssetsDefinition:
    @dg.asset(
        key=["warehouse", "raw", dataset.name],
        group_name="warehouse",
        partitions_def=dataset.partitions,
        deps=[dg.AssetKey(["lake", dataset.name])],
        kinds={"snowflake"},
        description=f"{dataset.description} Loaded into {dataset.table} with COPY INTO from the lake stage.",
        freshness_policy=dataset.freshness,
        check_specs=[
            dg.AssetCheckSpec(
                "primary_key_unique",
                asset=dg.AssetKey(["warehouse", "raw", dataset.name]),
                description=f"({', '.join(dataset.key)}) identifies one row of {dataset.table}, over all partitions.",
            )
        ],
        metadata={
            "dagster/column_schema": dg.TableSchema(
                columns=[dg.TableColumn(c.name.upper(), c.type, description=c.description) for c in dataset.columns]
            ),
            "dagster/table_name": dataset.table,
        },
    )
    def warehouse(context: dg.AssetExecutionContext, lake: Lake, snowflake: SnowflakeResource) -> dg.MaterializeResult:
        partition = _partition(context, dataset) or "all"
        files = lake_files(lake.client(), lake.bucket, dataset, partition)
        with snowflake.get_connection() as conn:
            with conn.cursor() as cur:
                ensure_stage(cur, lake.bucket, storage_integration)
            load = load_partition(conn, dataset, partition, files)  # creates the table on the first load
            with conn.cursor() as cur:
                duplicated, sample = duplicate_keys(cur, dataset)
        return dg.MaterializeResult(
            metadata={
                "table": load.table,
                "files": load.files,
                "rows_loaded": load.rows_loaded,
                "dagster/row_count": load.rows_in_partition,
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name="primary_key_unique",
                    passed=duplicated == 0,
                    metadata={
                        "duplicated_keys": duplicated,
                        "sample": dg.MetadataValue.json([[str(v) for v in row] for row in sample]),
                    },
                )
            ],
        )

    return warehouse
