"""seed, run, snapshot, test and build over a selection, in dependency order, as the dbt commands do.

`build` runs each test as soon as the nodes it reads are built, and a failing node or a failing
test of error severity skips everything downstream of it, so a mart is never rebuilt from data
a test has just rejected. The other nodes still run: one broken model does not stop the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from dbt_like_sql.engine.adapter import SnowflakeAdapter
from dbt_like_sql.engine.data_tests import run_test
from dbt_like_sql.engine.errors import SqlProjectError
from dbt_like_sql.engine.materializations import build_model
from dbt_like_sql.engine.nodes import DataTest
from dbt_like_sql.engine.project import Project
from dbt_like_sql.engine.results import BuildResult, DataTestResult
from dbt_like_sql.engine.seeds import load_seed
from dbt_like_sql.engine.snapshots import run_snapshot

__all__ = ["COMMANDS", "StepOutcome", "plan", "run_project"]

COMMANDS = ("seed", "run", "snapshot", "test", "build")
FAILED = ("error", "fail")


@dataclass(frozen=True)
class StepOutcome:
    name: str
    kind: str  # seed | model | snapshot | test
    status: str  # success | error | skipped | pass | fail | warn
    message: str
    result: BuildResult | DataTestResult | None = None


def plan(project: Project, command: str, selected: Collection[str]) -> list[str | DataTest]:
    """The steps of `command` in order: node names and tests, each test after the nodes it reads."""
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}; use one of {', '.join(COMMANDS)}")
    ordered = [n for n in project.order(selected) if not (n in project.models and project.models[n].ephemeral)]
    nodes = {
        "seed": [n for n in ordered if n in project.seeds],
        "run": [n for n in ordered if n in project.models],
        "snapshot": [n for n in ordered if n in project.snapshots],
        "test": [],
        "build": ordered,
    }[command]
    pending = [t for t in project.tests if t.node in selected] if command in ("test", "build") else []
    steps: list[str | DataTest] = []
    built: set[str] = set()
    for node in nodes:
        steps.append(node)
        built.add(node)
        ready = [t for t in pending if all(d in built or d not in selected for d in t.depends_on)]
        steps.extend(ready)
        pending = [t for t in pending if t not in ready]
    return steps + pending


def run_project(
    adapter: SnowflakeAdapter,
    project: Project,
    command: str,
    selected: Collection[str],
    full_refresh: bool = False,
    on_outcome: Callable[[StepOutcome, int, int], None] | None = None,
) -> list[StepOutcome]:
    """Run the plan; `on_outcome(outcome, index, total)` reports each step as it finishes."""
    steps = plan(project, command, selected)
    skipped: set[str] = set()
    outcomes = []
    for index, step in enumerate(steps, start=1):
        if isinstance(step, DataTest):
            outcome = _test_step(adapter, project, step, skipped)
            if command == "build" and outcome.status in FAILED:
                skipped |= project.graph.descendants(step.node)
        else:
            outcome = _node_step(adapter, project, step, skipped, full_refresh)
            if outcome.status == "error":
                skipped |= project.graph.descendants(step) | {step}
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome, index, len(steps))
    return outcomes


def _node_step(
    adapter: SnowflakeAdapter, project: Project, name: str, skipped: set[str], full_refresh: bool
) -> StepOutcome:
    kind = "seed" if name in project.seeds else "snapshot" if name in project.snapshots else "model"
    if name in skipped:
        return StepOutcome(name, kind, "skipped", f"{name}: skipped, an upstream node or test failed")
    try:
        if kind == "seed":
            result = load_seed(adapter, project.seeds[name])
        elif kind == "snapshot":
            result = run_snapshot(adapter, project.snapshots[name])
        else:
            result = build_model(adapter, project, name, full_refresh)
    except SqlProjectError as exc:
        return StepOutcome(name, kind, "error", str(exc))
    rows = f", {result.row_count} rows" if result.row_count is not None else ""
    changed = ""
    if result.rows_inserted is not None and kind != "seed":
        changed = f", {result.rows_inserted} inserted"
        changed += f", {result.rows_updated} updated" if result.rows_updated is not None else ""
    return StepOutcome(name, kind, "success", f"{result.action} {result.qualified_name}{rows}{changed}", result)


def _test_step(adapter: SnowflakeAdapter, project: Project, test: DataTest, skipped: set[str]) -> StepOutcome:
    if any(node in skipped for node in test.depends_on):
        return StepOutcome(test.name, "test", "skipped", f"{test.location}: {test.name} skipped, its model failed")
    result = run_test(adapter, project, test)
    return StepOutcome(test.name, "test", result.status, result.message, result)
