"""A 30-day backfill as Dagster's daemon runs it: one chain per partition under the pool limit,
stopped half-way (queued runs cancelled, running ones terminated) and resumed to completion."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from local_stack.stack import LocalStack
from platform_defs.chain_clients import lambda_client
from platform_defs.deploy import deploy_chain_function
from platform_defs.instance_config import write_dagster_home
from platform_defs.resources.build import build_resources
from platform_defs.settings import load_settings
from tests.dagster_daemon import TERMINAL, Daemon, backfill
from tests.vendor_admin import vendor_admin

pytestmark = pytest.mark.slow

CHAINS_AT_ONCE = 2
FIRST, LAST = "2025-03-03", "2025-04-11"  # six weeks: 30 weekday partitions


@pytest.fixture
def environment(local_stack: LocalStack, tmp_path: Path) -> Iterator[dict[str, str]]:
    settings = load_settings()
    deploy_chain_function(lambda_client(settings.aws), settings.chains.function_name, settings.chains.role_arn)
    home = write_dagster_home(tmp_path / "dagster", chains_per_source=CHAINS_AT_ONCE, max_concurrent_runs=4)
    vendor_admin(local_stack, "/admin/knobs", {"latency_ms": 1500})  # each chain's page takes long enough to overlap
    yield {**os.environ, "DAGSTER_HOME": str(home)}
    vendor_admin(local_stack, "/admin/knobs", {"latency_ms": 0})


@pytest.fixture
def daemon(environment: dict[str, str]) -> Iterator[Daemon]:
    process = Daemon(environment)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def runs_of(instance: dg.DagsterInstance, backfill_id: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id})))


def wait(until: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(1)


def raw_step_windows(instance: dg.DagsterInstance, runs: list[dg.DagsterRun]) -> list[tuple[float, float]]:
    """When each run's chain step held its pool slot."""
    windows = []
    for run in runs:
        starts, ends = {}, {}
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is None or event.step_key != "raw__prices":
                continue
            if event.event_type == dg.DagsterEventType.STEP_START:
                starts[run.run_id] = entry.timestamp
            elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
                ends[run.run_id] = entry.timestamp
        if run.run_id in starts:
            windows.append((starts[run.run_id], ends.get(run.run_id, time.time())))
    return windows


def most_at_once(windows: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in windows] + [(end, -1) for _, end in windows])
    current = peak = 0
    for _, change in edges:
        current += change
        peak = max(peak, current)
    return peak


def test_a_30_day_backfill_respects_the_pool_and_resumes_after_being_stopped(
    environment: dict[str, str], daemon: Daemon
) -> None:
    instance = dg.DagsterInstance.from_config(environment["DAGSTER_HOME"])
    first = backfill(environment, "--from", FIRST, "--to", LAST)
    assert len(runs_of(instance, first)) == 30, "one run, so one chain, per partition"

    wait(
        lambda: sum(r.status == dg.DagsterRunStatus.SUCCESS for r in runs_of(instance, first)) >= 6,
        300,
        "six partitions done",
    )
    for run in runs_of(instance, first):  # stop the backfill, as the UI's "Cancel backfill" does
        if run.status == dg.DagsterRunStatus.QUEUED:
            instance.report_run_canceled(run)
        elif run.status not in TERMINAL:
            instance.run_launcher.terminate(run.run_id)
    wait(lambda: all(r.status in TERMINAL for r in runs_of(instance, first)), 120, "the stopped runs to end")

    stopped = runs_of(instance, first)
    done = {r.tags["dagster/partition"] for r in stopped if r.status == dg.DagsterRunStatus.SUCCESS}
    remaining = sorted({r.tags["dagster/partition"] for r in stopped} - done)
    assert 6 <= len(done) < 30 and remaining

    second = backfill(environment, "--partitions", ",".join(remaining))
    wait(lambda: all(r.status in TERMINAL for r in runs_of(instance, second)), 600, "the resumed backfill to finish")
    resumed = runs_of(instance, second)
    assert {r.tags["dagster/partition"] for r in resumed} == set(remaining), "done partitions are not run again"
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in resumed), [r.status for r in resumed]

    peak = most_at_once(raw_step_windows(instance, stopped + resumed))
    assert 1 < peak <= CHAINS_AT_ONCE, f"{peak} chains ran at once; the pool allows {CHAINS_AT_ONCE}"

    snowflake = build_resources(load_settings())["snowflake"]
    with snowflake.get_connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT COUNT(*), COUNT(DISTINCT SYMBOL || DATE) FROM RAW.PRICES WHERE DATE BETWEEN %s AND %s",
            (datetime.fromisoformat(FIRST).date(), datetime.fromisoformat(LAST).date()),
        )
        rows, keys = cur.fetchone()
    assert rows == keys == 30 * 3000, "every partition loaded exactly once"
