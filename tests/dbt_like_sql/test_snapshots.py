"""Snapshots on the local Snowflake: the timestamp and check strategies, hard deletes, dbt_valid_from/to."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dbt_like_sql.engine import ProjectConfigError, SnowflakeAdapter, load_project, load_seed, run_project
from tests.dbt_like_sql.conftest import write_project

TIMESTAMPED = """
{% snapshot snap_accounts %}
{{ config(unique_key='account_id', strategy='timestamp', updated_at='updated_at') }}
select account_id, tier, updated_at from {{ ref('accounts') }}
{% endsnapshot %}
"""

CHECKED = """
{% snapshot snap_accounts_checked %}
{{ config(unique_key='account_id', strategy='check', check_cols=['tier'], invalidate_hard_deletes=true) }}
select account_id, tier, updated_at from {{ ref('accounts') }}
{% endsnapshot %}
"""

DAY_1 = "account_id,tier,updated_at\n1,gold,2025-06-01 09:00:00\n2,silver,2025-06-01 09:00:00\n"
# account 1 moves to platinum; account 2 is re-delivered with a newer stamp but no change; 3 is new
DAY_2 = (
    "account_id,tier,updated_at\n"
    "1,platinum,2025-06-02 09:00:00\n2,silver,2025-06-02 09:00:00\n3,bronze,2025-06-02 09:00:00\n"
)
# account 2 is gone
DAY_3 = "account_id,tier,updated_at\n1,platinum,2025-06-02 09:00:00\n3,bronze,2025-06-02 09:00:00\n"


def history(adapter: SnowflakeAdapter, schema: str, table: str) -> list[tuple[Any, ...]]:
    """(account, tier, valid from, valid to or None), asking the warehouse which are NULL.

    The local Snowflake's server hands a NULL TIMESTAMP_NTZ to the connector as 1970-01-01.
    """
    _, found = adapter.execute(
        f'SELECT account_id, tier, dbt_valid_from, dbt_valid_to, dbt_valid_to IS NULL FROM "{schema}"."{table}" '
        "ORDER BY account_id, dbt_valid_from"
    )
    return [(account, tier, start, None if is_open else end) for account, tier, start, end, is_open in found]


def t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_snapshot_strategies_keep_one_version_per_change(
    tmp_path: Path, adapter: SnowflakeAdapter, schema: str
) -> None:
    files = {"seeds/accounts.csv": DAY_1, "snapshots/accounts.sql": TIMESTAMPED, "snapshots/checked.sql": CHECKED}
    runs: list[dict[str, Any]] = []
    for day in (DAY_1, DAY_2, DAY_3):
        files["seeds/accounts.csv"] = day
        project = load_project(write_project(tmp_path, files, schema))
        load_seed(adapter, project.seeds["accounts"])
        outcomes = run_project(adapter, project, "snapshot", set(project.graph.nodes))
        runs.append({o.name: o for o in outcomes})
        assert [o.status for o in outcomes] == ["success", "success"]
    assert runs[0]["snap_accounts"].message.startswith(f"created snapshot BATON.{schema}.SNAP_ACCOUNTS, 2 rows")
    assert (runs[1]["snap_accounts"].result.rows_inserted, runs[1]["snap_accounts"].result.rows_updated) == (3, 2)  # type: ignore[union-attr]

    # timestamp: a newer updated_at is a new version even without a change; a vanished row stays open
    assert history(adapter, schema, "SNAP_ACCOUNTS") == [
        (1, "gold", t("2025-06-01 09:00"), t("2025-06-02 09:00")),
        (1, "platinum", t("2025-06-02 09:00"), None),
        (2, "silver", t("2025-06-01 09:00"), t("2025-06-02 09:00")),
        (2, "silver", t("2025-06-02 09:00"), None),
        (3, "bronze", t("2025-06-02 09:00"), None),
    ]
    # check on tier, stamped with the run's time: only the real change is a version; 2's deletion closes it
    checked = history(adapter, schema, "SNAP_ACCOUNTS_CHECKED")
    assert [(a, tier, to is None) for a, tier, _, to in checked] == [
        (1, "gold", False),
        (1, "platinum", True),
        (2, "silver", False),
        (3, "bronze", True),
    ]
    first_run, second_run = checked[0][2], checked[1][2]
    assert second_run > first_run and checked[0][3] == second_run, "a version closes when the next one opens"
    assert checked[2][3] > second_run, "account 2 was closed by the third run, when it was gone"


def test_a_snapshot_that_cannot_work_is_refused_at_its_line(tmp_path: Path) -> None:
    files = {
        "seeds/accounts.csv": DAY_1,
        "snapshots/accounts.sql": TIMESTAMPED.replace(", updated_at='updated_at'", ""),
    }
    write_project(tmp_path, files)
    with pytest.raises(ProjectConfigError, match=r"^snapshots/accounts.sql:2: strategy 'timestamp' needs updated_at="):
        load_project(tmp_path)
    files["snapshots/accounts.sql"] = CHECKED.replace("check_cols=['tier'], ", "")
    write_project(tmp_path, files)
    with pytest.raises(ProjectConfigError, match=r"^snapshots/accounts.sql:2: strategy 'check' needs check_cols="):
        load_project(tmp_path)
    files["snapshots/accounts.sql"] = "select 1 as a"
    write_project(tmp_path, files)
    with pytest.raises(ProjectConfigError, match=r"^snapshots/accounts.sql: a snapshot file holds one"):
        load_project(tmp_path)
