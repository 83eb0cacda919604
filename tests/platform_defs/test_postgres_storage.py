"""Dagster on PostgreSQL storage, as a deployment runs it: a real server, the daemon, a lineage.

The daemon runs a backfill of one prices partition (raw chain → lake → Snowflake) with the
instance config `baton instance` writes when `DAGSTER_PG_*` are set. The run, its events and
the chain's metadata must then be rows in PostgreSQL, not in a SQLite file. The daemon is then
stopped, a second backfill is requested while none runs, and a new daemon picks it up: the
first run and its events are still there, unchanged, and the second completes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg2
import pytest

from local_stack.postgres import LocalPostgres
from local_stack.stack import LocalStack, _free_port
from platform_defs.chain_clients import lambda_client
from platform_defs.deploy import deploy_chain_function
from platform_defs.instance_config import write_dagster_home
from platform_defs.settings import load_settings
from tests.dagster_daemon import TERMINAL, Daemon, backfill

FIRST, SECOND = "2025-05-05", "2025-05-06"


@pytest.fixture
def postgres() -> Iterator[dict[str, str]]:
    """A server of the test's own, in a folder the `postgres` user can enter (the server refuses root)."""
    home = Path(tempfile.mkdtemp(prefix="baton-postgres-"))
    home.chmod(0o755)
    server = LocalPostgres(home)
    try:
        server.start(_free_port())
        yield server.environment()
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def environment(
    local_stack: LocalStack, postgres: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    settings = load_settings()
    deploy_chain_function(lambda_client(settings.aws), settings.chains.function_name, settings.chains.role_arn)
    for name, value in postgres.items():  # this process reads the instance too
        monkeypatch.setenv(name, value)
    home = write_dagster_home(tmp_path / "dagster", environ={**os.environ, **postgres})
    return {**os.environ, **postgres, "DAGSTER_HOME": str(home)}


@pytest.fixture
def daemon(environment: dict[str, str]) -> Iterator[Daemon]:
    process = Daemon(environment)
    try:
        yield process
    finally:
        process.stop()


def wait(until: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := until()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(1)
    return found


def finished_run(instance: dg.DagsterInstance, partition: str) -> dg.DagsterRun | None:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": partition}))
    return runs[0] if runs and runs[0].status in TERMINAL else None


def query(postgres: dict[str, str], sql: str, *params: Any) -> list[tuple[Any, ...]]:
    connection = psycopg2.connect(
        host=postgres["DAGSTER_PG_HOST"],
        port=postgres["DAGSTER_PG_PORT"],
        dbname=postgres["DAGSTER_PG_DB"],
        user=postgres["DAGSTER_PG_USER"],
        password=postgres["DAGSTER_PG_PASSWORD"],
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
    finally:
        connection.close()


def chain_metadata(postgres: dict[str, str], run_id: str) -> dict[str, Any]:
    """The metadata of the run's raw materialisation, read from the event log's own table."""
    rows = query(
        postgres,
        "SELECT event FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
        run_id,
    )
    for (event,) in rows:
        materialization = dg.deserialize_value(event, dg.EventLogEntry).asset_materialization
        if materialization is not None and materialization.asset_key == dg.AssetKey(["raw", "prices"]):
            return {key: value.value for key, value in materialization.metadata.items()}
    raise AssertionError(f"no materialisation of raw/prices in run {run_id}'s events in PostgreSQL")


def test_dagster_keeps_runs_events_and_chain_metadata_in_postgres_across_a_daemon_restart(
    environment: dict[str, str], postgres: dict[str, str], daemon: Daemon
) -> None:
    home = Path(environment["DAGSTER_HOME"])
    assert "postgres_db" in (home / "dagster.yaml").read_text()
    assert postgres["DAGSTER_PG_PASSWORD"] not in (home / "dagster.yaml").read_text(), "the password stays in the env"
    instance = dg.DagsterInstance.from_config(str(home))
    daemon.start()
    backfill(environment, "--partitions", FIRST)
    first = wait(lambda: finished_run(instance, FIRST), 300, f"the {FIRST} run to finish")
    assert first.status == dg.DagsterRunStatus.SUCCESS, [e.message for e in instance.all_logs(first.run_id)][-5:]

    assert query(postgres, "SELECT status FROM runs WHERE run_id = %s", first.run_id) == [("SUCCESS",)]
    events = query(postgres, "SELECT id, event FROM event_logs WHERE run_id = %s ORDER BY id", first.run_id)
    assert len(events) > 10, "the run's events are rows in PostgreSQL"
    metadata = chain_metadata(postgres, first.run_id)
    assert (metadata["status"], metadata["rows"], metadata["cursor"]) == ("done", 3000, {"offset": 3000})
    assert metadata["ssm_parameter"] == f"/baton/local/chains/prices/{FIRST}"
    assert not list(home.glob("**/*.db")), "no SQLite storage beside the PostgreSQL one"

    daemon.stop()
    backfill(environment, "--partitions", SECOND)  # requested while no daemon runs: it waits in PostgreSQL
    assert finished_run(instance, SECOND) is None
    daemon.start()
    second = wait(lambda: finished_run(instance, SECOND), 300, f"the {SECOND} run, after the restart")
    assert second.status == dg.DagsterRunStatus.SUCCESS

    assert query(postgres, "SELECT status FROM runs WHERE run_id = %s", first.run_id) == [("SUCCESS",)]
    # The run worker's last engine events (its process exiting) may land after the run's status:
    # what counts is that every event recorded before the restart is still there, unchanged.
    after = query(postgres, "SELECT id, event FROM event_logs WHERE run_id = %s ORDER BY id", first.run_id)
    assert after[: len(events)] == events, "the first run's events are all still there, unchanged"
    assert chain_metadata(postgres, first.run_id) == metadata
    heartbeats = query(postgres, "SELECT count(DISTINCT daemon_type) FROM daemon_heartbeats")[0][0]
    assert heartbeats >= 3, "the daemons beat into PostgreSQL"
