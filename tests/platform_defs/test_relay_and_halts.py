"""Chains that outlive their run: relay mode through the sensor, and a terminated run's chain halting.

Both use a chain function with 2-second links and a slowed vendor, so a chain spans several
links and there is time to watch it mid-way.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pytest

from lambda_workers.chain.cursor_store import CursorRecord, halt_parameter_name
from lambda_workers.chain.status import ChainMode, ChainStatus
from lambda_workers.events import ChainAddress
from local_stack.home import PROJECT_ROOT
from local_stack.stack import LocalStack
from platform_defs.automation.relay_sensor import relay_chain_sensor
from platform_defs.chain_clients import aws_client
from platform_defs.datasets import DATASETS
from platform_defs.resources.build import build_resources
from platform_defs.settings import load_settings
from tests.chain_functions import deploy_test_function
from tests.vendor_admin import vendor_admin

RAW_PRICES = dg.AssetKey(["raw", "prices"])


@pytest.fixture(scope="module")
def assets(local_stack: LocalStack) -> list[dg.AssetsDefinition]:
    """The code location's assets, imported once the stack's environment is in place."""
    from platform_defs.definitions import assets

    return assets


@pytest.fixture(scope="module")
def short_link_function(local_stack: LocalStack) -> str:
    return deploy_test_function("short-links", timeout=2)


@pytest.fixture
def slow_vendor(local_stack: LocalStack) -> Iterator[LocalStack]:
    vendor_admin(local_stack, "/admin/knobs", {"latency_ms": 400})
    yield local_stack
    vendor_admin(local_stack, "/admin/reset", {})


@pytest.fixture
def resources(short_link_function: str) -> dict[str, Any]:
    built = build_resources(load_settings())
    chains = built["chains"]
    built["chains"] = type(chains)(**{**chains.model_dump(), "function_name": short_link_function, "page_size": 500})
    return built


def tick(resources: dict[str, Any], cursor: str | None) -> dg.SensorResult:
    with dg.build_sensor_context(cursor=cursor, resources={"chains": resources["chains"]}) as context:
        result = relay_chain_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def launch_relay(assets: list[dg.AssetsDefinition], resources: dict[str, Any], day: str) -> None:
    result = dg.materialize(
        assets,
        selection=[RAW_PRICES],
        resources=resources,
        partition_key=day,
        run_config={"ops": {"raw__prices": {"config": {"mode": "relay", "full_refresh": True}}}},
    )
    assert result.success
    assert not result.asset_materializations_for_node("raw__prices"), "the sensor materialises, not the run"


def events_for(result: dg.SensorResult, day: str) -> list[Any]:
    return [e for e in result.asset_events if e.partition in (day, None) and e.asset_key == RAW_PRICES]


def test_relay_mode_is_reported_by_the_sensor_and_runs_the_lake_and_warehouse(
    assets: list[dg.AssetsDefinition], resources: dict[str, Any], slow_vendor: LocalStack
) -> None:
    day = "2025-05-06"
    launch_relay(assets, resources, day)
    cursor, seen, runs = None, [], []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not any(isinstance(e, dg.AssetMaterialization) for e in seen):
        result = tick(resources, cursor)
        cursor = result.cursor
        seen += events_for(result, day)
        runs += list(result.run_requests or [])
        time.sleep(0.5)
    observations = [e for e in seen if isinstance(e, dg.AssetObservation)]
    materializations = [e for e in seen if isinstance(e, dg.AssetMaterialization)]
    assert len(materializations) == 1, seen
    done = materializations[0].metadata
    assert done["rows"].value == 3000 and done["status"].value == ChainStatus.DONE
    assert done["links"].value >= 2, "2-second links at 400 ms a page need several links"
    assert done["ssm_parameter"].value == f"/baton/local/chains/prices/{day}"
    assert observations and all("cursor" in o.metadata for o in observations)
    checks = [e for e in seen if isinstance(e, dg.AssetCheckEvaluation)]
    assert [(c.check_name, c.passed) for c in checks] == [("chain_healthy", True)]
    assert not tick(resources, cursor).asset_events, "a state is reported once"

    [run] = [r for r in runs if r.partition_key == day]
    assert run.asset_selection == [dg.AssetKey(["lake", "prices"]), dg.AssetKey(["warehouse", "raw", "prices"])]
    downstream = dg.materialize(assets, selection=run.asset_selection, resources=resources, partition_key=day)
    loaded = downstream.asset_materializations_for_node("warehouse__raw__prices")[0].metadata
    assert loaded["dagster/row_count"].value == 3000


def test_a_halted_relay_chain_fails_its_health_check(
    assets: list[dg.AssetsDefinition], resources: dict[str, Any], slow_vendor: LocalStack
) -> None:
    day = "2025-05-07"
    vendor_admin(slow_vendor, "/admin/knobs", {"latency_ms": 900})  # one page a link: time to halt mid-chain
    launch_relay(assets, resources, day)
    chains = resources["chains"]
    cursor, seen = None, []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(isinstance(e, dg.AssetObservation) for e in seen):
        result = tick(resources, cursor)
        cursor, seen = result.cursor, seen + events_for(result, day)
        time.sleep(0.2)
    chains.halt(ChainAddress("prices", day))
    failed: list[dg.AssetCheckEvaluation] = []
    while time.monotonic() < deadline and not failed:
        result = tick(resources, cursor)
        cursor = result.cursor
        failed = [e for e in events_for(result, day) if isinstance(e, dg.AssetCheckEvaluation) and not e.passed]
        time.sleep(0.3)
    assert failed, "the halt was reported as a failed chain_healthy check"
    assert failed[0].check_name == "chain_healthy" and ChainStatus.HALTED in (failed[0].description or "")


def test_terminating_a_driven_run_halts_its_chain(
    short_link_function: str, slow_vendor: LocalStack, tmp_path: Any
) -> None:
    """`dagster asset materialize` in its own process, stopped with SIGTERM as a run termination stops it."""
    # One 1000-instrument page per 2 s link (the margin learned from a 1 s page stops the link after
    # it), with a second to spare for the lease and the commits, so the link in flight is not
    # killed at its deadline on a loaded machine and lives to see the halt.
    vendor_admin(slow_vendor, "/admin/knobs", {"latency_ms": 1000})
    settings = load_settings()
    today = datetime.now(UTC).date().isoformat()
    chain = ChainAddress("instruments", today)
    ssm = aws_client(settings.aws, "ssm")
    store = build_resources(settings)["chains"].store()
    before, _ = store.load(settings.deployment, chain)
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "BATON_CHAIN_FUNCTION": short_link_function, "DAGSTER_HOME": str(tmp_path)}
    command = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "platform_defs.definitions"]
    process = subprocess.Popen(
        [*command, "--select", "raw/instruments", "--config-json", json.dumps(full_refresh_config("raw__instruments"))],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        record = wait_for_link(store, settings.deployment, chain, before.chain_id if before else None, 90)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        process.kill()
    halt = ssm.get_parameter(Name=halt_parameter_name(settings.deployment, chain))["Parameter"]["Value"]
    assert halt == "halt"
    time.sleep(3)  # the link in flight when the run stopped ends within its 2 s deadline
    settled, _ = store.load(settings.deployment, chain)
    time.sleep(3)
    after, _ = store.load(settings.deployment, chain)
    assert settled is not None and after is not None
    assert after.chain_id == record.chain_id
    assert after.link == settled.link, "no link runs after the halt"
    assert after.status == ChainStatus.HALTED, "the link in flight saw the halt when it committed"

    vendor_admin(slow_vendor, "/admin/knobs", {"latency_ms": 0})
    again = subprocess.run(
        [*command, "--select", "raw/instruments"], cwd=PROJECT_ROOT, env=env, capture_output=True, timeout=120
    )
    assert again.returncode == 0, again.stderr.decode()[-2000:]
    resumed, _ = store.load(settings.deployment, chain)
    assert resumed is not None and resumed.status == ChainStatus.DONE
    assert resumed.chain_id == record.chain_id, "the rerun resumed the halted chain instead of starting over"
    assert resumed.link > after.link and resumed.rows == resumed.total


def full_refresh_config(op: str) -> dict[str, Any]:
    return {"ops": {op: {"config": {"full_refresh": True}}}}


def wait_for_link(store: Any, deployment: str, chain: ChainAddress, old_chain_id: str | None, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        record, _ = store.load(deployment, chain)
        if record is not None and record.chain_id != old_chain_id and record.link >= 1:
            assert record.status == ChainStatus.RUNNING, f"the chain ended before it could be stopped: {record}"
            return record
        time.sleep(0.2)
    raise AssertionError(f"no link of a new {DATASETS[chain.asset].name} chain committed in {seconds} s")


def test_the_sensor_forgets_chains_that_finished_days_ago(resources: dict[str, Any]) -> None:
    chains = resources["chains"]
    chain = ChainAddress("prices", "2025-01-02")
    old = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    record = CursorRecord(
        "20250102T000000Z-old00001",
        ChainStatus.DONE,
        {"offset": 3000},
        link=2,
        rows=3000,
        updated_at=old,
        mode=ChainMode.RELAY,
    )
    chains.store().commit(chains.deployment, chain, record)
    parameter = f"/baton/{chains.deployment}/chains/prices/2025-01-02"
    result = tick(resources, json.dumps({parameter: "20250102T000000Z-old00001:2:done:ok"}))
    assert not [e for e in result.asset_events if e.metadata["ssm_parameter"].value == parameter]
    assert parameter not in json.loads(result.cursor or "{}")
