"""A loaded, validated project: its nodes, their graph, and compilation of a model on demand.

Models are compiled again when they run, because `is_incremental()` depends on the warehouse
(does the table exist yet?) and on whether a full refresh was asked for.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from dbt_like_sql.engine.ephemeral import with_ctes
from dbt_like_sql.engine.graph import Graph
from dbt_like_sql.engine.nodes import DataTest, Model, Seed, SourceTable
from dbt_like_sql.engine.quoting import Relation
from dbt_like_sql.engine.render import Renderer
from dbt_like_sql.engine.snapshots import Snapshot
from dbt_like_sql.engine.target import Target

__all__ = ["Project", "RelationNamespace", "clean_sql"]


class RelationNamespace:
    """What ref() and source() resolve to once every node's schema is known."""

    def __init__(self, relations: Mapping[str, Relation], sources: Mapping[str, SourceTable]) -> None:
        self._relations = relations
        self._sources = sources

    def ref(self, name: str) -> Relation | None:
        return self._relations.get(name)

    def source(self, source_name: str, table_name: str) -> Relation | None:
        table = self._sources.get(f"{source_name}.{table_name}")
        return table.relation if table else None

    def ref_names(self) -> Collection[str]:
        return self._relations.keys()

    def source_names(self) -> Collection[str]:
        return self._sources.keys()


@dataclass(frozen=True)
class Project:
    project_dir: Path
    name: str
    target: Target
    models: Mapping[str, Model]
    seeds: Mapping[str, Seed]
    snapshots: Mapping[str, Snapshot]
    sources: Mapping[str, SourceTable]
    tests: tuple[DataTest, ...]
    graph: Graph
    renderer: Renderer
    namespace: RelationNamespace

    def node(self, name: str) -> Model | Seed | Snapshot:
        found = self.models.get(name) or self.seeds.get(name) or self.snapshots.get(name)
        if found is None:
            raise KeyError(f"{name!r} is no model, seed or snapshot of project {self.name!r}")
        return found

    def compile(self, name: str, is_incremental: bool = False) -> str:
        """The model's SQL as it runs: `is_incremental` says whether the table exists and is kept."""
        model = self.models[name]
        if not is_incremental:
            return model.compiled_sql  # rendered this way when the project loaded
        rendered = self.renderer.render(model.relative_path, self.namespace, model.relation, is_incremental)
        return with_ctes(clean_sql(rendered.sql), model.ctes)

    def tests_for(self, name: str) -> list[DataTest]:
        return [test for test in self.tests if test.node == name]

    def order(self, names: Collection[str] | None = None) -> list[str]:
        """Models, seeds and snapshots in build order (every node after the nodes it reads)."""
        return self.graph.topological(names)


def clean_sql(sql: str) -> str:
    """Rendered SQL without surrounding blank space and trailing semicolons, ready to embed."""
    return sql.strip().rstrip(";").rstrip()
