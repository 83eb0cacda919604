"""The SQL project as Dagster assets: one asset per model, seed and snapshot, one asset check per data test.

A model's asset key is its schema and name (["analytics", "dim_instrument"]); it depends on the
models and seeds it ref()s and, for each source() it reads, on the platform's warehouse asset
that loads that RAW table (["warehouse", "raw", <dataset>]; the RAW sources are the declared
datasets, `platform_defs.sql_sources`; a source table's
`meta: {dagster: {asset_key: [...]}}` can name another one, as in dagster-dbt), and on the
parents its relationships tests compare it with, since those checks run in its step. Descriptions
become asset metadata and Snowflake comments. Tests run right after their model is built; a
test of error severity is a blocking check, so what reads a rejected model waits, as in
`dbt build`. (No `from __future__ import annotations`: Dagster reads the annotations of the
asset functions when they are defined.)
"""

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from dbt_like_sql.engine import (
    BuildResult,
    ColumnDoc,
    DataTest,
    DataTestResult,
    Model,
    Project,
    Seed,
    Snapshot,
    SnowflakeAdapter,
    SourceTable,
    SqlProjectError,
    Target,
    build_model,
    load_seed,
    read_seed,
    run_snapshot,
    run_test,
)
from platform_defs.datasets import DATASETS, Dataset
from platform_defs.resources.warehouse import SnowflakeResource
from platform_defs.sql_sources import RAW_SOURCE, platform_project
from platform_defs.warehouse import ensure_tables

__all__ = ["MARTS_GROUP", "SEEDS_GROUP", "SNAPSHOTS_GROUP", "SQL_GROUPS", "SqlModelConfig", "sql_model_assets"]

MARTS_GROUP = "marts"
SEEDS_GROUP = "seeds"
SNAPSHOTS_GROUP = "snapshots"
SQL_GROUPS = (SEEDS_GROUP, SNAPSHOTS_GROUP, MARTS_GROUP)  # every asset of the SQL project

# Warehouse assets partitioned by day: a model reads all their partitions, most of which (the
# history back to 2024) may never be loaded, so "a dependency is missing" must not hold it back.
_PARTITIONED_WAREHOUSE_KEYS = {
    dg.AssetKey(["warehouse", "raw", name]) for name, dataset in DATASETS.items() if dataset.partitions
}


class SqlModelConfig(dg.Config):
    full_refresh: bool = False  # rebuild an incremental model from scratch; other models are always rebuilt


def sql_model_assets(project_dir: Path | None = None, target: Target | None = None) -> list[dg.AssetsDefinition]:
    """The assets of the SQL project in `project_dir` (default: the platform's own, dbt_like_sql/).

    The project is loaded and checked here, so a broken model fails the code location at load
    time with the file and line at fault. `target`: the platform's (`platform_target`).
    """
    project = platform_project(project_dir, target)
    keys = {name: _node_key(project.node(name)) for name in project.graph.nodes}
    seeds = [_seed_asset(project, seed, keys) for seed in project.seeds.values()]
    models = [_model_asset(project, model, keys) for model in project.models.values() if not model.ephemeral]
    snapshots = [_snapshot_asset(project, snapshot, keys) for snapshot in project.snapshots.values()]
    return [*seeds, *snapshots, *models]


def _node_key(node: Model | Seed | Snapshot) -> dg.AssetKey:
    return dg.AssetKey([node.relation.schema.lower(), node.name])


def _source_key(table: SourceTable) -> dg.AssetKey:
    configured = (table.meta.get("dagster") or {}).get("asset_key")
    if configured:
        return dg.AssetKey(list(configured))
    return dg.AssetKey(["warehouse", table.relation.schema.lower(), table.name])


def _test_parents(
    project: Project, node: str, keys: dict[str, dg.AssetKey], deps: Sequence[dg.AssetKey]
) -> list[dg.AssetKey]:
    """What else a node's tests read (relationships, singular tests): its checks run in its step, after those.

    A parent that itself reads the node cannot come first; its test then sees its last build.
    """
    downstream = project.graph.descendants(node)
    parents = {other for test in project.tests_for(node) for other in test.depends_on if other != node}
    return [keys[p] for p in sorted(parents - downstream) if keys[p] not in deps]


def _automation(deps: Sequence[dg.AssetKey]) -> dg.AutomationCondition:
    """Refresh when an input updates (eager) or when the node's own SQL or CSV changes.

    Missing partitions of a day-partitioned input do not hold a model back: it reads the days loaded.
    """
    condition = dg.AutomationCondition.eager()
    partitioned = [key for key in deps if key in _PARTITIONED_WAREHOUSE_KEYS]
    if partitioned:
        condition = condition.replace(
            dg.AutomationCondition.any_deps_missing(),
            dg.AutomationCondition.any_deps_missing().ignore(dg.AssetSelection.assets(*partitioned)),
        )
    return condition | dg.AutomationCondition.code_version_changed()


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


def _column_schema(docs: Sequence[ColumnDoc], columns: Sequence[tuple[str, str]] | None = None) -> dg.TableSchema:
    """Actual columns and types with their descriptions; before a build, the documented columns only."""
    descriptions = {d.name.upper(): d.description for d in docs}
    if columns is None:
        columns = [(d.name.upper(), "") for d in docs]
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, data_type, description=descriptions.get(name) or None) for name, data_type in columns
        ]
    )


def _check_specs(
    project: Project, node: str, key: dg.AssetKey, keys: dict[str, dg.AssetKey]
) -> list[dg.AssetCheckSpec]:
    specs = []
    for test in project.tests_for(node):
        other = [keys[name] for name in test.depends_on if name != node]
        specs.append(
            dg.AssetCheckSpec(
                test.name,
                asset=key,
                description=f"{test.test_type} on {test.subject} ({test.location})",
                blocking=test.severity == "error",
                additional_deps=other,
            )
        )
    return specs


def _check_results(context: dg.AssetExecutionContext, results: list[DataTestResult]) -> list[dg.AssetCheckResult]:
    for result in results:
        if result.status != "pass":
            context.log.warning(result.message)
    return [_check_result(result) for result in results]


def _check_result(result: DataTestResult) -> dg.AssetCheckResult:
    test: DataTest = result.test
    metadata: dict[str, Any] = {
        "failing_rows": result.failures,
        "declared_in": test.location,
        "sql": dg.MetadataValue.md(f"```sql\n{result.sql}\n```"),
    }
    if result.failures:
        metadata["sample"] = dg.MetadataValue.md(result.sample_table())
    if result.error is not None:
        metadata["error"] = result.error
    return dg.AssetCheckResult(
        check_name=test.name,
        passed=result.status == "pass",
        severity=dg.AssetCheckSeverity.WARN if test.severity == "warn" else dg.AssetCheckSeverity.ERROR,
        description=result.message,
        metadata=metadata,
    )


def _result_metadata(result: BuildResult, docs: Sequence[ColumnDoc]) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "dagster/table_name": result.qualified_name,
        "dagster/column_schema": _column_schema(docs, result.columns),
        "materialized": result.materialized,
        "action": result.action,
        "sql": dg.MetadataValue.md(f"```sql\n{result.sql}\n```"),
    }
    if result.row_count is not None:
        metadata["dagster/row_count"] = result.row_count
    if result.rows_inserted is not None:
        metadata["rows_inserted"] = result.rows_inserted
    if result.rows_updated is not None:
        metadata["rows_updated"] = result.rows_updated
    if result.undocumented:
        metadata["undocumented_columns"] = dg.MetadataValue.json(list(result.undocumented))
    if result.hooks:
        metadata["hooks"] = dg.MetadataValue.md("```sql\n" + ";\n".join(result.hooks) + "\n```")
    if result.grants:
        metadata["grants"] = dg.MetadataValue.json(list(result.grants))
        metadata["grants_applied"] = result.grants_applied
    return metadata


def _read_through_ephemerals(project: Project, model: Model | Snapshot) -> tuple[list[str], list[str]]:
    """The nodes and sources a model reads, with each ephemeral it inlines replaced by what that reads."""
    nodes: list[str] = []
    sources: list[str] = []
    for call in model.refs:
        parent = project.models.get(call.target)
        if parent is not None and parent.ephemeral:  # a snapshot never reads one: the loader refuses it
            inner_nodes, inner_sources = _read_through_ephemerals(project, parent)
            nodes += inner_nodes
            sources += inner_sources
        else:
            nodes.append(call.target)
    sources += [call.target for call in model.sources]
    return list(dict.fromkeys(nodes)), list(dict.fromkeys(sources))


def _model_asset(project: Project, model: Model, keys: dict[str, dg.AssetKey]) -> dg.AssetsDefinition:
    key = keys[model.name]
    nodes, sources = _read_through_ephemerals(project, model)
    deps = [keys[name] for name in nodes]
    deps += [_source_key(project.sources[name]) for name in sources]
    deps += _test_parents(project, model.name, keys, deps)
    tests = project.tests_for(model.name)
    where = f"Built as a {model.config.materialized} in {model.relation.display} from `{model.relative_path}`."

    @dg.asset(
        key=key,
        group_name=MARTS_GROUP,
        deps=deps,
        kinds={"snowflake", "sql"},
        description=f"{model.description}\n\n{where}" if model.description else where,
        metadata={
            "dagster/column_schema": _column_schema(model.columns),
            "materialized": model.config.materialized,
        },
        check_specs=_check_specs(project, model.name, key, keys),
        automation_condition=_automation(deps),
        code_version=_digest(model.raw_sql, repr(model.config), *(sql for _, sql in model.ctes)),
    )
    def sql_model(
        context: dg.AssetExecutionContext, config: SqlModelConfig, snowflake: SnowflakeResource
    ) -> dg.MaterializeResult:
        return _build_and_test(
            context,
            snowflake,
            project,
            tests,
            lambda adapter: build_model(adapter, project, model.name, full_refresh=config.full_refresh),
            model.columns,
            raw_tables=[DATASETS[name] for name in _catalogue_sources_read(sources) if name in DATASETS],
        )

    return sql_model


def _snapshot_asset(project: Project, snapshot: Snapshot, keys: dict[str, dg.AssetKey]) -> dg.AssetsDefinition:
    """A snapshot's asset: each materialisation records what changed in its query since the last."""
    key = keys[snapshot.name]
    nodes, sources = _read_through_ephemerals(project, snapshot)
    deps = [keys[name] for name in nodes] + [_source_key(project.sources[name]) for name in sources]
    deps += _test_parents(project, snapshot.name, keys, deps)
    tests = project.tests_for(snapshot.name)
    config = snapshot.config
    where = (
        f"A {config.strategy} snapshot on {', '.join(k.lower() for k in config.unique_key)} in "
        f"{snapshot.relation.display} from `{snapshot.relative_path}`: one row per version, "
        "valid from dbt_valid_from until dbt_valid_to (null: the current one)."
    )

    @dg.asset(
        key=key,
        group_name=SNAPSHOTS_GROUP,
        deps=deps,
        kinds={"snowflake", "sql"},
        description=f"{snapshot.description}\n\n{where}" if snapshot.description else where,
        metadata={"dagster/column_schema": _column_schema(snapshot.columns), "materialized": "snapshot"},
        check_specs=_check_specs(project, snapshot.name, key, keys),
        automation_condition=_automation(deps),
        code_version=_digest(snapshot.raw_sql, repr(config)),
    )
    def sql_snapshot(context: dg.AssetExecutionContext, snowflake: SnowflakeResource) -> dg.MaterializeResult:
        return _build_and_test(
            context,
            snowflake,
            project,
            tests,
            lambda adapter: run_snapshot(adapter, snapshot),
            snapshot.columns,
            raw_tables=[DATASETS[name] for name in _catalogue_sources_read(sources) if name in DATASETS],
        )

    return sql_snapshot


def _catalogue_sources_read(sources: Sequence[str]) -> list[str]:
    """The datasets whose RAW tables a model reads through source('raw', ...)."""
    return sorted({source.split(".", 1)[1] for source in sources if source.startswith(f"{RAW_SOURCE}.")})


def _seed_asset(project: Project, seed: Seed, keys: dict[str, dg.AssetKey]) -> dg.AssetsDefinition:
    key = keys[seed.name]
    table = read_seed(seed)
    tests = project.tests_for(seed.name)
    where = f"Loaded from `{seed.relative_path}` into {seed.relation.display}."

    @dg.asset(
        key=key,
        group_name=SEEDS_GROUP,
        deps=_test_parents(project, seed.name, keys, []),
        kinds={"snowflake", "csv"},
        description=f"{seed.description}\n\n{where}" if seed.description else where,
        metadata={
            "dagster/column_schema": _column_schema(seed.columns, list(zip(table.columns, table.types, strict=True))),
        },
        check_specs=_check_specs(project, seed.name, key, keys),
        automation_condition=_automation([]),
        code_version=_digest(seed.path.read_text(encoding="utf-8"), repr(sorted(seed.column_types.items()))),
    )
    def sql_seed(context: dg.AssetExecutionContext, snowflake: SnowflakeResource) -> dg.MaterializeResult:
        return _build_and_test(
            context, snowflake, project, tests, lambda adapter: load_seed(adapter, seed), seed.columns
        )

    return sql_seed


def _build_and_test(
    context: dg.AssetExecutionContext,
    snowflake: SnowflakeResource,
    project: Project,
    tests: Sequence[DataTest],
    build: Callable[[SnowflakeAdapter], BuildResult],
    columns: Sequence[ColumnDoc],
    raw_tables: Sequence[Dataset] = (),
) -> dg.MaterializeResult:
    """Build a model or load a seed, then run its tests on the same connection, as `dbt build` does.

    The RAW tables the model reads are created first if no load has yet (`ensure_tables`).
    """
    with snowflake.get_connection() as connection:
        ensure_tables(connection, raw_tables)
        adapter = SnowflakeAdapter(connection)
        try:
            result = build(adapter)
        except SqlProjectError as exc:
            raise dg.Failure(description=str(exc)) from exc
        checks = [run_test(adapter, project, test) for test in tests]
    rows = f", {result.row_count} rows" if result.row_count is not None else ""
    context.log.info(f"{result.action} {result.qualified_name} in {result.seconds:.2f} s{rows}")
    return dg.MaterializeResult(
        metadata=_result_metadata(result, columns), check_results=_check_results(context, checks)
    )
