"""The instrument history: three daily reference snapshots, with changes, answer "which sector on date D".

Runs Baton's own SQL project (snap_instruments, dim_instrument_history and their tests) in a
database of its own on the local Snowflake, so the RAW instruments other tests load do not mix in.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import dagster as dg
import pytest

from dbt_like_sql.engine import SnowflakeAdapter, run_project
from local_stack.stack import LocalStack
from platform_defs.datasets import DATASETS
from platform_defs.resources import build_resources
from platform_defs.settings import load_settings
from platform_defs.sql_sources import platform_project
from platform_defs.warehouse import ensure_table

INSTRUMENTS = DATASETS["instruments"]
ROW = "('{symbol}', 'US{symbol}0000001', '{name}', 'XNYS', 'USD', '{sector}', '2001-05-04', '{day}')"
DAYS = {
    date(2025, 3, 3): [
        ("ACME", "Acme Corp", "Industrials"),
        ("BOLT", "Bolt Energy", "Energy"),
        ("CURE", "Cure Labs", "Health Care"),
    ],
    # ACME is renamed, BOLT moves sector
    date(2025, 3, 4): [
        ("ACME", "Acme Holdings", "Industrials"),
        ("BOLT", "Bolt Energy", "Utilities"),
        ("CURE", "Cure Labs", "Health Care"),
    ],
    # CURE is delisted, DART is listed
    date(2025, 3, 5): [
        ("ACME", "Acme Holdings", "Industrials"),
        ("BOLT", "Bolt Energy", "Utilities"),
        ("DART", "Dart Media", "Communication Services"),
    ],
}


@pytest.fixture
def adapter(local_stack: LocalStack) -> Iterator[SnowflakeAdapter]:
    settings = load_settings()
    database = f"HISTORY_{uuid.uuid4().hex[:8].upper()}"
    settings = dataclasses.replace(settings, snowflake=dataclasses.replace(settings.snowflake, database=database))
    snowflake = build_resources(settings)["snowflake"]
    with dg.build_resources({"snowflake": snowflake}) as resources, resources.snowflake.get_connection() as connection:
        yield SnowflakeAdapter(connection)  # the local resource created the database


def sector_on(adapter: SnowflakeAdapter, symbol: str, day: date) -> list[tuple[Any, ...]]:
    """The query a business user runs: the sector (and name) of `symbol` on `day`."""
    _, found = adapter.execute(
        "SELECT sector, instrument_name FROM ANALYTICS.DIM_INSTRUMENT_HISTORY "
        "WHERE symbol = %s AND valid_from <= %s AND (valid_to > %s OR valid_to IS NULL)",
        (symbol, day, day),
    )
    return found


def test_three_daily_snapshots_answer_which_sector_an_instrument_was_in_on_a_date(adapter: SnowflakeAdapter) -> None:
    project = platform_project()
    selected = project.graph.ancestors("dim_instrument_history") | {"dim_instrument_history"}
    assert "snap_instruments" in selected
    with adapter._connection.cursor() as cur:  # the RAW table as the warehouse load creates it
        ensure_table(cur, INSTRUMENTS)
    for day, instruments in DAYS.items():
        rows = ", ".join(
            ROW.format(symbol=s, name=n, sector=sector, day=day.isoformat()) for s, n, sector in instruments
        )
        adapter.execute_dml(f"INSERT INTO {INSTRUMENTS.table} VALUES {rows}")
        outcomes = run_project(adapter, project, "build", selected)
        assert [(o.name, o.status) for o in outcomes if o.status not in ("success", "pass")] == []

    first, second, third = DAYS
    assert sector_on(adapter, "BOLT", first) == [("Energy", "Bolt Energy")]
    assert sector_on(adapter, "BOLT", second) == [("Utilities", "Bolt Energy")]
    assert sector_on(adapter, "BOLT", date(2025, 6, 30)) == [("Utilities", "Bolt Energy")], "the current version"
    assert sector_on(adapter, "ACME", first) == [("Industrials", "Acme Corp")]
    assert sector_on(adapter, "ACME", third) == [("Industrials", "Acme Holdings")]
    assert sector_on(adapter, "CURE", second) == [("Health Care", "Cure Labs")]
    assert sector_on(adapter, "CURE", third) == [], "delisted on the third day"
    assert sector_on(adapter, "DART", second) == [] and sector_on(adapter, "DART", third) == [
        ("Communication Services", "Dart Media")
    ]
    assert sector_on(adapter, "BOLT", date(2025, 3, 2)) == [], "before the first snapshot nothing is known"
    _, versions = adapter.execute(
        "SELECT symbol, COUNT(*), COUNT_IF(is_current) FROM ANALYTICS.DIM_INSTRUMENT_HISTORY GROUP BY symbol ORDER BY 1"
    )
    assert versions == [("ACME", 2, 1), ("BOLT", 2, 1), ("CURE", 1, 0), ("DART", 1, 1)]
