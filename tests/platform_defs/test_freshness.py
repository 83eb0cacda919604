"""The intraday table's freshness policy, evaluated by Dagster's own freshness daemon.

The daemon reads the policy from the code location as `workspace.yaml` serves it and records a
state change whenever the state moves; the clock is frozen at each moment of the story, so what
the test sees depends on the calendar and never on how fast the machine is.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget
from dagster._daemon.freshness import FreshnessDaemon

from local_stack.home import PROJECT_ROOT
from local_stack.stack import LocalStack
from platform_defs.instance_config import write_dagster_home

NEW_YORK = ZoneInfo("America/New_York")
INTRADAY_TABLE = dg.AssetKey(["warehouse", "raw", "intraday_prices"])


def new_york(moment: str) -> datetime:
    return datetime.fromisoformat(moment).replace(tzinfo=NEW_YORK)


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dg.DagsterInstance]:
    """An instance on the `dagster.yaml` Baton writes, so its freshness setting is the one in force."""
    home = write_dagster_home(tmp_path_factory.mktemp("freshness") / "dagster")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


@pytest.fixture(scope="module")
def workspace(local_stack: LocalStack, instance: dg.DagsterInstance) -> Iterator[WorkspaceProcessContext]:
    target = WorkspaceFileTarget(paths=[str(PROJECT_ROOT / "workspace.yaml")])
    with create_test_daemon_workspace_context(target, instance) as context:
        yield context


def test_only_the_intraday_table_has_a_freshness_policy(workspace: WorkspaceProcessContext) -> None:
    graph = workspace.create_request_context().asset_graph
    assert {node.key for node in graph.asset_nodes if node.freshness_policy} == {INTRADAY_TABLE}


def test_the_intraday_table_must_be_loaded_between_9_15_and_9_45_new_york_time_on_weekdays(
    instance: dg.DagsterInstance, workspace: WorkspaceProcessContext
) -> None:
    assert FreshnessDaemon.daemon_type() in instance.get_required_daemon_types()

    def load(moment: str) -> None:
        with freeze_time(new_york(moment)):
            instance.report_runless_asset_event(dg.AssetMaterialization(INTRADAY_TABLE, partition=moment[:10]))

    def state(moment: str) -> FreshnessState:
        with freeze_time(new_york(moment)):
            list(FreshnessDaemon().run_iteration(workspace))
        return instance.get_freshness_state_records([INTRADAY_TABLE])[INTRADAY_TABLE].freshness_state

    assert state("2025-06-02T09:50") == FreshnessState.UNKNOWN, "never loaded: nothing to judge"
    load("2025-06-02T09:20")  # a Monday
    assert state("2025-06-02T09:50") == FreshnessState.PASS
    assert state("2025-06-03T09:44") == FreshnessState.PASS, "Tuesday's deadline has not come yet"
    assert state("2025-06-03T09:46") == FreshnessState.FAIL, "no load since 09:15 on Tuesday"
    load("2025-06-03T10:05")
    assert state("2025-06-03T10:06") == FreshnessState.PASS, "a late load makes it fresh again"
    assert state("2025-06-04T09:46") == FreshnessState.FAIL, "a silent Wednesday"
    load("2025-06-06T09:10")  # Friday, before the window opens
    assert state("2025-06-06T09:12") == FreshnessState.PASS, "it catches up with Thursday's deadline"
    assert state("2025-06-06T09:46") == FreshnessState.FAIL, "but is too early to count for Friday's"
    load("2025-06-06T09:40")
    assert state("2025-06-09T09:44") == FreshnessState.PASS, "the weekend has no deadline"
