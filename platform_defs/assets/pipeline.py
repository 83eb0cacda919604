"""raw (a relay chain into S3) -> lake (typed Parquet) -> warehouse (Snowflake RAW), per dataset.

One factory for every dataset in the catalogue, so each lineage step behaves the same way and
reports the same metadata whatever the source. (No `from __future__ import annotations` here:
Dagster resolves the config and resource annotations of the asset functions at definition.)
"""

import io
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pyarrow.parquet as pq
from dagster_snowflake import SnowflakeResource

from lambda_workers.chain.fanout import shard_ranges
from lambda_workers.events import ChainAddress
from platform_defs.datasets import DATASETS, Dataset
from platform_defs.lake import build_lake_partition, lake_files
from platform_defs.resources.chains import ChainResource, estimated_cost_usd
from platform_defs.resources.lake import Lake
from platform_defs.warehouse import ensure_stage, ensure_table, load_partition

__all__ = ["CHAIN_POOL", "dataset_assets"]

CHAIN_POOL = "vendor_chains"


class ExtractionConfig(dg.Config):
    full_refresh: bool = False
    shards: int = 1  # > 1: split the symbol space, one chain per shard (shardable datasets only)
    max_concurrent_shards: int = 4


def dataset_assets(dataset: Dataset, storage_integration: str | None) -> list[dg.AssetsDefinition]:
    return [_raw_asset(dataset), _lake_asset(dataset), _warehouse_asset(dataset, storage_integration)]


def _partition(context: dg.AssetExecutionContext, dataset: Dataset) -> str | None:
    return context.partition_key if dataset.partitions else None


def _raw_asset(dataset: Dataset) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", dataset.name],
        group_name="raw",
        partitions_def=dataset.partitions,
        pool=CHAIN_POOL,
        kinds={"lambda", "s3"},
        description=f"{dataset.description} Extracted by a relay chain of Lambda links into the raw zone.",
    )
    def raw(
        context: dg.AssetExecutionContext, config: ExtractionConfig, chains: ChainResource, lake: Lake
    ) -> dg.MaterializeResult:
        partition = dataset.chain_partition(_partition(context, dataset), datetime.now(UTC).date())
        chain = ChainAddress(dataset.name, partition)
        if config.shards > 1 and not dataset.shardable:
            raise dg.Failure(description=f"{dataset.name} cannot be sharded")

        def on_link(result: dict[str, Any]) -> None:
            total = result.get("total")
            progress = f" ({100 * result['rows'] / total:.0f}% of {total})" if total else ""
            context.log.info(
                f"{result['parameter']} link {result['link']}: {result['outcome']}, +{result['link_rows']} rows in "
                f"{result['link_ms']:.0f} ms, {result['rows']} rows so far{progress}"
            )
            context.log_event(
                dg.AssetObservation(
                    asset_key=context.asset_key,
                    partition=_partition(context, dataset),
                    metadata=_chain_metadata(result),
                )
            )

        if config.shards > 1:
            symbols = _instrument_symbols(lake)
            ranges = shard_ranges(symbols, config.shards)
            events = [
                chains.start_event(
                    dataset,
                    ChainAddress(dataset.name, partition, shard.name),
                    lake.bucket,
                    config.full_refresh,
                    key_range=(shard.first, shard.last),
                )
                for shard in ranges
            ]
            results = chains.drive_shards(events, on_link, config.max_concurrent_shards)
        else:
            results = [chains.drive(chains.start_event(dataset, chain, lake.bucket, config.full_refresh), on_link)]
        failed = [r for r in results if r["status"] != "done"]
        metadata = _chain_metadata(results[0]) if len(results) == 1 else _shards_metadata(results)
        if failed:
            raise dg.Failure(
                description="; ".join(f"{r['parameter']} ended {r['status']}: {r['last_error']}" for r in failed),
                metadata=metadata,
            )
        return dg.MaterializeResult(metadata=metadata)

    return raw


def _instrument_symbols(lake: Lake) -> list[str]:
    """The symbol key space, from the lake's instrument snapshot (shard bounds follow it)."""
    dataset_files = lake_files(lake.client(), lake.bucket, DATASETS["instruments"], "all")
    if not dataset_files:
        raise dg.Failure(description="sharding needs lake/instruments: materialise the instruments first")
    symbols: list[str] = []
    for key in dataset_files:
        body = lake.client().get_object(Bucket=lake.bucket, Key=key)["Body"].read()
        symbols += pq.read_table(io.BytesIO(body), columns=["symbol"]).column("symbol").to_pylist()
    return symbols


def _shards_metadata(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One materialisation for all shards: counters summed, each shard's cursor kept."""
    summed = {key: sum(r[key] for r in results) for key in ("rows", "bytes", "chunks", "quarantined", "link")}
    billed = sum(r["billed_ms"] for r in results)
    memory = results[0]["memory_mb"]
    return {
        "status": "done" if all(r["status"] == "done" for r in results) else "incomplete",
        "shards": len(results),
        "chain_ids": dg.MetadataValue.json({r["parameter"]: r["chain_id"] for r in results}),
        "cursor": dg.MetadataValue.json({r["parameter"]: r["cursor"] for r in results}),
        "links": summed["link"],
        "rows": summed["rows"],
        "bytes": summed["bytes"],
        "chunks": summed["chunks"],
        "quarantined": summed["quarantined"],
        "lambda_gb_seconds": round(billed / 1000 * memory / 1024, 3),
        "estimated_cost_usd": estimated_cost_usd(billed, memory, summed["link"]),
    }


def _chain_metadata(result: dict[str, Any]) -> dict[str, Any]:
    total = result.get("total")
    gb_seconds = result["billed_ms"] / 1000 * result["memory_mb"] / 1024
    return {
        "chain_id": result.get("chain_id") or "",
        "status": result["status"],
        "outcome": result["outcome"],
        "cursor": dg.MetadataValue.json(result.get("cursor") or {}),
        "links": result["link"],
        "rows": result["rows"],
        "bytes": result["bytes"],
        "chunks": result["chunks"],
        "quarantined": result["quarantined"],
        "progress": dg.MetadataValue.float(1.0 if result["status"] == "done" else result["rows"] / total)
        if total
        else dg.MetadataValue.float(1.0 if result["status"] == "done" else 0.0),
        "lambda_gb_seconds": round(gb_seconds, 3),
        "estimated_cost_usd": estimated_cost_usd(result["billed_ms"], result["memory_mb"], result["link"]),
        "s3_prefix": result.get("prefix") or "",
        "ssm_parameter": result["parameter"],
    }


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
        build = build_lake_partition(client, lake.bucket, dataset, raw_prefix, lake_partition)
        accounted = build.lake_rows + build.quarantined + build.rejected + build.duplicates
        return dg.MaterializeResult(
            metadata={
                "raw_rows": build.raw_rows,
                "lake_rows": build.lake_rows,
                "quarantined": build.quarantined,
                "rejected": build.rejected,
                "duplicates": build.duplicates,
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
    base = f"raw/{dataset.source}/{dataset.name}/"
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
                ensure_table(cur, dataset)
            load = load_partition(conn, dataset, partition, files)
        return dg.MaterializeResult(
            metadata={
                "table": load.table,
                "files": load.files,
                "rows_loaded": load.rows_loaded,
                "dagster/row_count": load.rows_in_partition,
            }
        )

    return warehouse
