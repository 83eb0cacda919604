"""What a dataset is, as its declaration describes it: vendor, source, columns, key, partitioning, trigger.

Extraction, lake, warehouse, checks, schedules, sensors and the SQL sources all read these
objects, so nothing downstream names a dataset. Column types are logical (`string`, `date`,
`timestamp`, `epoch_seconds`, `epoch_millis`, `float`, `integer`); the lake step turns them
into Parquet types and the warehouse into Snowflake types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg

__all__ = [
    "COLUMN_TYPES",
    "PARTITION_KINDS",
    "Column",
    "Dataset",
    "Partitioning",
    "Sharding",
    "Trigger",
    "VendorEndpoint",
    "http_vendors",
]

SNOWFLAKE_TYPES = {
    "string": "VARCHAR",
    "date": "DATE",
    "timestamp": "TIMESTAMP_NTZ",
    "epoch_seconds": "TIMESTAMP_NTZ",
    "epoch_millis": "TIMESTAMP_NTZ",
    "float": "FLOAT",
    "integer": "NUMBER(38,0)",
}
COLUMN_TYPES = tuple(SNOWFLAKE_TYPES)
VALIDATION_TYPES = {
    "string": "string",
    "date": "string",
    "timestamp": "string",
    "epoch_seconds": "number",
    "epoch_millis": "number",
    "float": "number",
    "integer": "integer",
}
TIME_TYPES = ("date", "timestamp", "epoch_seconds", "epoch_millis")

PARTITION_KINDS = ("weekday", "daily", "intraday", "landed_file", "snapshot", "none")
"""weekday/daily: one partition per (week)day, complete once the day is over. intraday: one per
weekday, open while the day is under way, complete at `closes_at`. landed_file: one per file
landed under the trigger's prefix, named by the file (a request the vendor serves). snapshot:
unpartitioned, each extraction a full copy kept per day. none: one open partition, extracted
incrementally."""

HTTP_KINDS = ("json_rest", "xml_api", "job_poll")
"""Source kinds that call a vendor's API, and so need its base URL and secret."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    required: bool = True


@dataclass(frozen=True)
class VendorEndpoint:
    """Where a vendor is and which SSM SecureString holds its secret (from settings, never declared)."""

    base_url: str
    secret_parameter: str


@dataclass(frozen=True)
class Partitioning:
    """How a dataset is partitioned, and when a partition's window closes (nothing more can come)."""

    kind: str
    start: str | None = None
    timezone: str = "UTC"
    closes_at: time | None = None  # intraday: local time of day the partition is complete

    def definition(self, dataset: str) -> dg.PartitionsDefinition | None:
        if self.kind in ("snapshot", "none"):
            return None
        if self.kind == "landed_file":
            return dg.DynamicPartitionsDefinition(name=f"{dataset}_files")
        cron = "0 0 * * *" if self.kind == "daily" else "0 0 * * 1-5"
        return dg.TimeWindowPartitionsDefinition(
            cron_schedule=cron,
            start=self.start or "",
            fmt="%Y-%m-%d",
            timezone=self.timezone,
            end_offset=1 if self.kind == "intraday" else 0,
        )

    def partition_at(self, tick: datetime) -> str | None:
        """The partition a scheduled tick at `tick` loads: the day under way (intraday) or the last day closed.

        Days are in the partitioning's time zone; weekday and intraday partitions skip weekends.
        None before the first partition, or for an unpartitioned dataset.
        """
        if self.kind in ("snapshot", "none", "landed_file"):
            return None
        day = tick.astimezone(ZoneInfo(self.timezone)).date()
        if self.kind != "intraday":
            day -= timedelta(days=1)
        while self.kind != "daily" and day.weekday() >= 5:
            day -= timedelta(days=1)
        return day.isoformat() if self.start and day >= date.fromisoformat(self.start) else None

    def window_closes_at(self, partition: str) -> str | None:
        """ISO time the partition is complete; `"never"` for an open feed; None: complete when exhausted."""
        if self.kind == "none":
            return "never"
        if self.kind in ("snapshot", "landed_file"):
            return None
        day = _day(partition)
        zone = ZoneInfo(self.timezone)
        if self.kind == "intraday" and self.closes_at is not None:
            return datetime.combine(day, self.closes_at, zone).isoformat()
        return datetime.combine(day + timedelta(days=1), time(0), zone).isoformat()


@dataclass(frozen=True)
class Trigger:
    """What starts the lineage: a cron schedule, new files under an S3 landing prefix, or nothing."""

    kind: str  # schedule | landing | none
    cron: str | None = None
    timezone: str = "UTC"
    prefix: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Sharding:
    """A shardable dataset splits its key space (a column of another dataset's lake) into ranges."""

    key_dataset: str
    key_column: str
    from_param: str
    to_param: str


@dataclass(frozen=True)
class Dataset:
    name: str
    vendor: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    partitioning: Partitioning
    source: Mapping[str, Any]  # the worker's source config, without base URL, secret, bucket or window
    trigger: Trigger = Trigger("none")
    freshness: dg.FreshnessPolicy | None = None
    sharding: Sharding | None = None
    business_date: str | None = None
    notify_on_success: bool = False
    path: str = ""  # the declaration file, as the catalogue names it in errors
    partitions: dg.PartitionsDefinition | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "partitions", self.partitioning.definition(self.name))

    @property
    def snapshot(self) -> bool:
        return self.partitioning.kind == "snapshot"

    @property
    def shardable(self) -> bool:
        return self.sharding is not None

    @property
    def calls_vendor_api(self) -> bool:
        return self.source["kind"] in HTTP_KINDS

    def chain_partition(self, partition_key: str | None, today: date) -> str:
        """The chain's partition: the Dagster partition, today's snapshot, or one open feed ("all")."""
        if partition_key is not None:
            return partition_key
        return today.isoformat() if self.snapshot else "all"

    def source_config(
        self, vendor: VendorEndpoint | None, bucket: str, partition: str, page_size: int | None = None
    ) -> dict[str, Any]:
        """The worker's `source` for one chain: the declaration's, with the partition and settings filled in.

        `page_size`, when given, replaces the declared page size (tests and benches use smaller pages).
        """
        config = _fill(dict(self.source), {"partition": partition})
        if self.calls_vendor_api:
            if vendor is None:
                raise ValueError(f"{self.name}: no settings for its vendor {self.vendor!r}")
            config["base_url"] = vendor.base_url
            if "auth" in config:
                config["auth"] = {**config["auth"], "secret_parameter": vendor.secret_parameter}
        if config["kind"] == "s3_feed":
            config["bucket"] = bucket
            if config.get("format") == "csv":
                config["columns"] = [column.name for column in self.columns]
        if config["kind"] in ("json_rest", "xml_api"):
            closes = self.partitioning.window_closes_at(partition)
            if closes is not None:
                config["window_closes_at"] = closes
        if page_size is not None:
            if config["kind"] == "json_rest":
                config["pagination"] = {**config["pagination"], "limit": page_size}
            elif config["kind"] == "xml_api":
                config["page_size"] = page_size
        return config

    @property
    def validation(self) -> dict[str, Any]:
        """The worker's per-record checks, derived from the columns."""
        return {
            "required": [c.name for c in self.columns if c.required],
            "types": {c.name: VALIDATION_TYPES[c.type] for c in self.columns},
        }

    def raw_prefix(self, partition: str) -> str:
        return f"raw/{self.vendor}/{self.name}/{partition}"

    def quarantine_prefix(self, partition: str) -> str:
        return f"quarantine/{self.vendor}/{self.name}/{partition}"

    def lake_prefix(self, partition: str) -> str:
        return f"lake/{self.name}/{partition}"

    @property
    def table(self) -> str:
        return f"RAW.{self.name.upper()}"


def _fill(value: Any, names: Mapping[str, str]) -> Any:
    """`value` with the `{name}` placeholders of `names` in its strings replaced; other braces stay."""
    if isinstance(value, str):
        for name, replacement in names.items():
            value = value.replace(f"{{{name}}}", replacement)
        return value
    if isinstance(value, Mapping):
        return {key: _fill(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, names) for item in value]
    return value


def _day(partition: str) -> date:
    """A daily dataset's partition as its day; anything else names the partition, not just a bad ISO string."""
    try:
        return date.fromisoformat(partition)
    except ValueError:
        raise ValueError(f"partition {partition!r} is not a day (YYYY-MM-DD) of a daily dataset") from None


def http_vendors(datasets: Mapping[str, Dataset]) -> list[str]:
    """The vendors whose APIs the datasets call: each needs a base URL and a secret in settings."""
    return sorted({dataset.vendor for dataset in datasets.values() if dataset.calls_vendor_api})
