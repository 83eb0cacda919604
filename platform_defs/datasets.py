"""The datasets Baton extracts, described once: source, columns, key, partitioning.

Extraction, lake, warehouse and checks all read these specs, so a column or key is declared in
one place. Column types are logical (`string`, `date`, `timestamp`, `float`, `integer`); the lake
step turns them into Parquet types and the warehouse into Snowflake types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg

__all__ = ["DATASETS", "LANDING_CORPORATE_ACTIONS", "Column", "Dataset", "SourceSettings"]

EXCHANGE_TZ = ZoneInfo("America/New_York")
HISTORY_START = "2024-01-01"

SNOWFLAKE_TYPES = {
    "string": "VARCHAR",
    "date": "DATE",
    "timestamp": "TIMESTAMP_NTZ",
    "float": "FLOAT",
    "integer": "NUMBER(38,0)",
}
VALIDATION_TYPES = {
    "string": "string",
    "date": "string",
    "timestamp": "string",
    "float": "number",
    "integer": "integer",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    required: bool = True


@dataclass(frozen=True)
class SourceSettings:
    """Where the vendor is and which SSM SecureString holds its API key."""

    vendor_base_url: str
    api_key_parameter: str
    lake_bucket: str
    page_size: int = 10_000


@dataclass(frozen=True)
class Dataset:
    name: str
    source: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    partitions: dg.PartitionsDefinition | None
    build_source: Callable[[SourceSettings, str], dict[str, Any]]
    shardable: bool = False
    snapshot: bool = False  # unpartitioned: each extraction a full snapshot, kept per day
    # what readers of the warehouse table may count on (a policy on the warehouse asset)
    freshness: dg.FreshnessPolicy | None = None

    def chain_partition(self, partition_key: str | None, today: date) -> str:
        """The chain's partition: the Dagster partition, today's snapshot, or one open feed ("all")."""
        if partition_key is not None:
            return partition_key
        return today.isoformat() if self.snapshot else "all"

    @property
    def validation(self) -> dict[str, Any]:
        """The worker's per-record checks, derived from the columns."""
        return {
            "required": [c.name for c in self.columns if c.required],
            "types": {c.name: VALIDATION_TYPES[c.type] for c in self.columns},
        }

    def raw_prefix(self, partition: str) -> str:
        return f"raw/{self.source}/{self.name}/{partition}"

    def quarantine_prefix(self, partition: str) -> str:
        return f"quarantine/{self.source}/{self.name}/{partition}"

    def lake_prefix(self, partition: str) -> str:
        return f"lake/{self.name}/{partition}"

    @property
    def table(self) -> str:
        return f"RAW.{self.name.upper()}"


def _auth(settings: SourceSettings) -> dict[str, str]:
    return {"header": "X-Api-Key", "secret_parameter": settings.api_key_parameter}


def _day(partition: str) -> date:
    """A daily dataset's partition as its day; anything else names the partition, not just a bad ISO string."""
    try:
        return date.fromisoformat(partition)
    except ValueError:
        raise ValueError(f"partition {partition!r} is not a day (YYYY-MM-DD) of a daily dataset") from None


def _next_midnight_utc(partition: str) -> str:
    """End-of-day data for a day is complete once the vendor's clock has passed that day."""
    return f"{_day(partition) + timedelta(days=1)}T00:00:00+00:00"


def _prices_source(settings: SourceSettings, partition: str) -> dict[str, Any]:
    return {
        "kind": "json_rest",
        "base_url": settings.vendor_base_url,
        "path": "/v1/prices",
        "params": {"from": partition, "to": partition},
        "records": "data",
        "pagination": {"style": "offset", "limit": settings.page_size},
        "auth": _auth(settings),
        "window_closes_at": _next_midnight_utc(partition),
    }


def _fx_source(settings: SourceSettings, partition: str) -> dict[str, Any]:
    return {
        "kind": "json_rest",
        "base_url": settings.vendor_base_url,
        "path": "/v1/fx",
        "params": {"from": partition, "to": partition},
        "records": "data",
        "pagination": {"style": "token", "limit": 1000},
        "auth": _auth(settings),
        "window_closes_at": _next_midnight_utc(partition),
    }


def _intraday_source(settings: SourceSettings, partition: str) -> dict[str, Any]:
    close = datetime.combine(_day(partition), time(16, 0), EXCHANGE_TZ)
    return {
        "kind": "json_rest",
        "base_url": settings.vendor_base_url,
        "path": "/v1/intraday",
        "params": {"date": partition},
        "records": "",
        "pagination": {"style": "link", "limit": 5000},
        "incremental": {"field": "seq", "param": "after"},
        "auth": _auth(settings),
        "window_closes_at": close.isoformat(),
    }


def _instruments_source(settings: SourceSettings, partition: str) -> dict[str, Any]:
    return {
        "kind": "xml_api",
        "base_url": settings.vendor_base_url,
        "path": "/v1/instruments.xml",
        "record_element": "instrument",
        "page_size": 1000,
        "auth": _auth(settings),
    }


def _corporate_actions_source(settings: SourceSettings, partition: str) -> dict[str, Any]:
    """The feed files; a file whose header lacks one of the columns is refused rather than read as nulls."""
    return {
        "kind": "s3_feed",
        "bucket": settings.lake_bucket,
        "prefix": LANDING_CORPORATE_ACTIONS,
        "format": "csv",
        "columns": [column.name for column in CORPORATE_ACTION_COLUMNS],
    }


LANDING_CORPORATE_ACTIONS = "landing/corporate_actions/"
CORPORATE_ACTION_COLUMNS = (
    Column("action_id", "string", "Vendor identifier of the action."),
    Column("symbol", "string", "Vendor instrument symbol."),
    Column("ex_date", "date", "Ex-date: the first day prices reflect the action."),
    Column("action_type", "string", "split or dividend."),
    Column("ratio", "float", "Split ratio (new shares per old share); empty for dividends.", False),
    Column("amount", "float", "Cash dividend per share; empty for splits.", False),
    Column("currency", "string", "Currency of the dividend amount.", False),
)
"""The columns of the vendor's feed files, each a column of the dataset."""

WEEKDAYS = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 * * 1-5", start=HISTORY_START, fmt="%Y-%m-%d", timezone="UTC"
)
"""End-of-day data: one partition per weekday, complete once the day is over."""

TRADING_DAYS = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 * * 1-5", start=HISTORY_START, fmt="%Y-%m-%d", timezone="America/New_York", end_offset=1
)
"""Intraday data: today's partition exists while the day is under way (seed 000's window)."""

INTRADAY_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron="45 9 * * 1-5", lower_bound_delta=timedelta(minutes=30), timezone=str(EXCHANGE_TZ)
)
"""RAW.INTRADAY_PRICES as the dashboards expect it: at 09:45 New York time on a weekday, its last load
is no older than 09:15. The schedule loads it every 20 minutes, so one missed tick passes and a
silent schedule does not; Dagster evaluates the policy even when no run happens at all, and the
table stays stale until its next load."""

_OHLC = (
    Column("open", "float", "First traded price of the period, in the listing currency."),
    Column("high", "float", "Highest traded price of the period."),
    Column("low", "float", "Lowest traded price of the period."),
    Column("close", "float", "Last traded price of the period."),
    Column("volume", "integer", "Shares traded in the period."),
)


DATASETS: dict[str, Dataset] = {
    dataset.name: dataset
    for dataset in (
        Dataset(
            name="prices",
            source="vendor",
            description="Daily OHLCV prices of every listed instrument, as published after each trading day.",
            columns=(
                Column("symbol", "string", "Vendor instrument symbol."),
                Column("date", "date", "Trading day."),
                *_OHLC,
                Column("currency", "string", "ISO 4217 currency of the prices."),
            ),
            key=("symbol", "date"),
            partitions=WEEKDAYS,
            build_source=_prices_source,
            shardable=True,
        ),
        Dataset(
            name="fx_rates",
            source="vendor",
            description="Daily FX rates: units of the quote currency per US dollar.",
            columns=(
                Column("date", "date", "Fixing day."),
                Column("base", "string", "Base currency (always USD)."),
                Column("quote", "string", "Quote currency."),
                Column("rate", "float", "Units of quote currency per one unit of base."),
            ),
            key=("date", "quote"),
            partitions=WEEKDAYS,
            build_source=_fx_source,
        ),
        Dataset(
            name="intraday_prices",
            source="vendor",
            description="Five-minute bars published through the trading day, fetched incrementally.",
            columns=(
                Column("symbol", "string", "Vendor instrument symbol."),
                Column("ts", "timestamp", "Bar start time, UTC."),
                *_OHLC,
                Column("seq", "integer", "Publication order of the bar within the day."),
            ),
            key=("symbol", "ts"),
            partitions=TRADING_DAYS,
            build_source=_intraday_source,
            freshness=INTRADAY_FRESHNESS,
        ),
        Dataset(
            name="instruments",
            source="vendor",
            description="Reference data of every instrument, a full snapshot per extraction.",
            columns=(
                Column("symbol", "string", "Vendor instrument symbol."),
                Column("isin", "string", "ISIN (ISO 6166)."),
                Column("name", "string", "Issuer name."),
                Column("exchange", "string", "Listing exchange (ISO 10383 MIC)."),
                Column("currency", "string", "Trading currency."),
                Column("sector", "string", "Sector classification."),
                Column("listed_on", "date", "Listing date."),
            ),
            key=("symbol",),
            partitions=None,
            build_source=_instruments_source,
            snapshot=True,
        ),
        Dataset(
            name="corporate_actions",
            source="vendor",
            description="Splits and cash dividends, from the daily feed files of the vendor in the landing zone.",
            columns=CORPORATE_ACTION_COLUMNS,
            key=("action_id",),
            partitions=None,
            build_source=_corporate_actions_source,
        ),
    )
}
