"""Load a project folder: files, configs, docs, graph and a sqlglot check of every model.

Two passes, as dbt parses then compiles: the first renders each model only to learn its
config(), ref() and source() calls (a model's schema can come from its own config(), so no
relation is known before every file is read); the second renders with the real relations and
checks the SQL. Everything that can be wrong with the files is found here, at load time.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbt_like_sql.engine.errors import (
    CycleError,
    ProjectConfigError,
    SchemaFileError,
    UnknownRefError,
)
from dbt_like_sql.engine.graph import Graph
from dbt_like_sql.engine.nodes import MATERIALIZATIONS, Call, DataTest, Model, ModelConfig, Seed, SourceTable
from dbt_like_sql.engine.project import Project, RelationNamespace, clean_sql
from dbt_like_sql.engine.project_file import (
    MODEL_CONFIG_KEYS,
    PROJECT_FILE,
    SEED_CONFIG_KEYS,
    ProjectFile,
    load_project_file,
)
from dbt_like_sql.engine.quoting import Relation, normalize_identifier
from dbt_like_sql.engine.render import Rendered, Renderer
from dbt_like_sql.engine.schema_files import (
    DataTestDeclaration,
    NodeDocs,
    SchemaFiles,
    SourceDeclaration,
    load_schema_files,
)
from dbt_like_sql.engine.sql_check import check_model_sql

__all__ = ["load_project"]

_COLUMN_TYPE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\s*\(\s*\d+\s*(,\s*\d+\s*)?\))?")
_TEST_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class _File:
    name: str
    path: Path
    relative: str
    folders: tuple[str, ...]


class _ParseNamespace:
    """The first pass: every name resolves to a placeholder, so configs can be read first."""

    def __init__(self, names: Collection[str], sources: Mapping[str, SourceTable]) -> None:
        self._names = names
        self._sources = sources

    def ref(self, name: str) -> Relation | None:
        return Relation("PARSING", name.upper()) if name in self._names else None

    def source(self, source_name: str, table_name: str) -> Relation | None:
        table = self._sources.get(f"{source_name}.{table_name}")
        return table.relation if table else None

    def ref_names(self) -> Collection[str]:
        return self._names

    def source_names(self) -> Collection[str]:
        return self._sources.keys()


def load_project(project_dir: Path, sources: Sequence[SourceDeclaration] = ()) -> Project:
    """The validated project in `project_dir`; any problem raises an error naming file and line.

    `sources` are source tables declared outside the project's schema files (Baton derives its
    RAW tables from the dataset catalogue), each naming the file it comes from; one declared in
    both places is an error naming both.
    """
    project_dir = project_dir.resolve()
    project_file = load_project_file(project_dir)
    schema_files = load_schema_files(project_dir, (*project_file.model_paths, *project_file.seed_paths))
    schema_files = _with_sources(schema_files, sources)
    model_files = _discover(project_dir, project_file.model_paths, ".sql")
    seed_files = _discover(project_dir, project_file.seed_paths, ".csv")
    _check_unique_names([*model_files, *seed_files])
    _check_docs_match(schema_files, {f.name for f in model_files}, {f.name for f in seed_files})
    sources = _sources(schema_files)
    renderer = Renderer(project_dir, project_file.name, project_file.vars, _graph_sources(project_file.name, sources))

    seeds = _seeds(seed_files, project_file, schema_files)
    names = {f.name for f in [*model_files, *seed_files]}
    parsed = _parse_models(model_files, project_file, schema_files, renderer, _ParseNamespace(names, sources))
    relations = {name: seed.relation for name, seed in seeds.items()}
    relations.update({name: Relation(config.schema, name.upper()) for name, (_, _, config) in parsed.items()})
    files = {name: file for name, (file, _, _) in parsed.items()}
    _check_cycles(seeds, files, {name: first.refs for name, (_, first, _) in parsed.items()})

    namespace = RelationNamespace(relations, sources)
    models = _compile_models(parsed, schema_files, renderer, namespace, _suggestions(relations, sources))
    return Project(
        project_dir=project_dir,
        name=project_file.name,
        models=models,
        seeds=seeds,
        sources=sources,
        tests=_tests(schema_files, {**models, **seeds}, renderer, namespace),
        graph=_check_cycles(seeds, files, {name: model.refs for name, model in models.items()}),
        renderer=renderer,
        namespace=namespace,
    )


_Parsed = dict[str, tuple[_File, Rendered, ModelConfig]]


def _seeds(seed_files: list[_File], project_file: ProjectFile, schema_files: SchemaFiles) -> dict[str, Seed]:
    seeds: dict[str, Seed] = {}
    for file in seed_files:
        docs = schema_files.seeds.get(file.name)
        _check_config_keys(docs.config if docs else {}, SEED_CONFIG_KEYS, *_docs_location(docs))
        config = {**project_file.seed_config(file.folders, file.name), **(docs.config if docs else {})}
        if config.get("enabled", True) is not False:
            seeds[file.name] = _seed(file, config, docs, project_file.default_schema)
    return seeds


def _parse_models(
    model_files: list[_File],
    project_file: ProjectFile,
    schema_files: SchemaFiles,
    renderer: Renderer,
    namespace: _ParseNamespace,
) -> _Parsed:
    """First pass: each enabled model's calls and its config (project file < schema.yml < config())."""
    parsed: _Parsed = {}
    disabled: set[str] = set()
    for file in model_files:
        first = renderer.render(file.relative, namespace, Relation("PARSING", file.name.upper()), False)
        docs = schema_files.models.get(file.name)
        _check_config_keys(docs.config if docs else {}, MODEL_CONFIG_KEYS, *_docs_location(docs))
        for key, line in first.config_lines.items():
            _check_config_keys({key: None}, MODEL_CONFIG_KEYS, file.relative, line)
        config = {**project_file.model_config(file.folders, file.name), **(docs.config if docs else {}), **first.config}
        if config.get("enabled", True) is False:
            disabled.add(file.name)
            continue
        model_config = _model_config(config, project_file.default_schema, file.relative, first.config_lines)
        parsed[file.name] = (file, first, model_config)
    for file, first, _ in parsed.values():
        for call in first.refs:
            if call.target in disabled:
                raise UnknownRefError(f"ref({call.target!r}) names a disabled model", file.relative, call.line)
    return parsed


def _compile_models(
    parsed: _Parsed,
    schema_files: SchemaFiles,
    renderer: Renderer,
    namespace: RelationNamespace,
    suggestions: Mapping[tuple[str, str], str],
) -> dict[str, Model]:
    """Second pass: render with the real relations and check the SQL (both branches of an incremental)."""
    models: dict[str, Model] = {}
    for name, (file, _, config) in parsed.items():
        relation = namespace.ref(name)
        assert relation is not None
        text = file.path.read_text(encoding="utf-8")
        rendered = renderer.render(file.relative, namespace, relation, False)
        check_model_sql(rendered.sql, [*_declared(rendered, namespace), relation], file.relative, text, suggestions)
        if config.materialized == "incremental":
            again = renderer.render(file.relative, namespace, relation, True)
            check_model_sql(again.sql, [*_declared(again, namespace), relation], file.relative, text, suggestions)
            rendered.refs.extend(again.refs)
            rendered.sources.extend(again.sources)
        docs = schema_files.models.get(name)
        models[name] = Model(
            name=name,
            path=file.path,
            relative_path=file.relative,
            raw_sql=text,
            config=config,
            relation=relation,
            description=docs.description if docs else "",
            columns=docs.columns if docs else (),
            refs=_unique_calls(rendered.refs),
            sources=_unique_calls(rendered.sources),
            compiled_sql=clean_sql(rendered.sql),
        )
    return models


def _discover(project_dir: Path, folders: tuple[str, ...], suffix: str) -> list[_File]:
    """Files with `suffix` under the folders; the file name (without suffix) is the node's name."""
    found = []
    for folder in folders:
        root = project_dir / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob(f"*{suffix}")):
            relative = path.relative_to(project_dir).as_posix()
            name = path.name[: -len(suffix)]
            normalize_identifier(name, "the file name", relative)
            folders_below = path.parent.relative_to(root).parts
            found.append(_File(name, path, relative, tuple(folders_below)))
    return found


def _check_unique_names(files: list[_File]) -> None:
    seen: dict[str, str] = {}
    for file in files:
        key = file.name.lower()
        if key in seen:
            raise ProjectConfigError(
                f"the name {file.name!r} is already taken by {seen[key]}: ref() needs one node per name", file.relative
            )
        seen[key] = file.relative


def _with_sources(schema_files: SchemaFiles, extra: Sequence[SourceDeclaration]) -> SchemaFiles:
    if not extra:
        return schema_files
    sources = dict(schema_files.sources)
    for declaration in extra:
        key = f"{declaration.source_name}.{declaration.name}"
        if key in sources:
            other = sources[key]
            raise SchemaFileError(
                f"source table {key!r} is declared twice: here and in {other.path}:{other.line}",
                declaration.path,
                declaration.line,
            )
        sources[key] = declaration
    return SchemaFiles(models=schema_files.models, seeds=schema_files.seeds, sources=sources)


def _graph_sources(project_name: str, sources: Mapping[str, SourceTable]) -> dict[str, dict[str, Any]]:
    """`graph.sources` as dbt's Jinja context has it: by unique id, each with its name, columns and meta."""
    return {
        f"source.{project_name}.{table.source_name}.{table.name}": {
            "unique_id": f"source.{project_name}.{table.source_name}.{table.name}",
            "resource_type": "source",
            "source_name": table.source_name,
            "name": table.name,
            "schema": table.relation.schema,
            "identifier": table.relation.name,
            "description": table.description,
            "columns": {c.name: {"name": c.name, "description": c.description} for c in table.columns},
            "meta": dict(table.meta),
        }
        for table in sources.values()
    }


def _sources(schema_files: SchemaFiles) -> dict[str, SourceTable]:
    tables = {}
    for key, declared in schema_files.sources.items():
        where = (declared.path, declared.line)
        relation = Relation(
            schema=normalize_identifier(declared.schema, f"the schema of source {declared.source_name!r}", *where),
            name=normalize_identifier(declared.identifier, f"source table {key!r}", *where),
            database=normalize_identifier(declared.database, "the source database", *where)
            if declared.database
            else None,
        )
        tables[key] = SourceTable(
            source_name=declared.source_name,
            name=declared.name,
            relation=relation,
            description=declared.description,
            columns=declared.columns,
            meta=declared.meta,
        )
    return tables


def _docs_location(docs: NodeDocs | None) -> tuple[str | None, int | None]:
    return (docs.path, docs.line) if docs else (None, None)


def _check_config_keys(config: Mapping[str, Any], known: tuple[str, ...], path: str | None, line: int | None) -> None:
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise ProjectConfigError(f"unsupported config {unknown[0]!r}; supported: {', '.join(known)}", path, line)


def _model_config(
    config: Mapping[str, Any], default_schema: str | None, path: str, lines: Mapping[str, int | None]
) -> ModelConfig:
    materialized = config.get("materialized", "view")
    if materialized not in MATERIALIZATIONS:
        raise ProjectConfigError(
            f"materialized={materialized!r} is not one of {', '.join(MATERIALIZATIONS)}",
            path,
            lines.get("materialized"),
        )
    schema = config.get("schema") or default_schema
    if schema is None:
        raise ProjectConfigError(
            f"no schema: set `models: +schema: <SCHEMA>` in {PROJECT_FILE} or config(schema=...)", path
        )
    unique_key = config.get("unique_key") or ()
    keys = [unique_key] if isinstance(unique_key, str) else unique_key
    if not isinstance(keys, list | tuple):
        raise ProjectConfigError("unique_key must be a column name or a list of them", path, lines.get("unique_key"))
    return ModelConfig(
        materialized=materialized,
        schema=normalize_identifier(schema, "schema", path, lines.get("schema")),
        unique_key=tuple(normalize_identifier(k, "unique_key column", path, lines.get("unique_key")) for k in keys),
    )


def _seed(file: _File, config: Mapping[str, Any], docs: NodeDocs | None, default_schema: str | None) -> Seed:
    schema = config.get("schema") or default_schema
    if schema is None:
        raise ProjectConfigError(f"no schema: set `seeds: +schema: <SCHEMA>` in {PROJECT_FILE}", file.relative)
    column_types = config.get("column_types") or {}
    if not isinstance(column_types, Mapping):
        raise ProjectConfigError(f"column_types of seed {file.name!r} must map columns to types", PROJECT_FILE)
    types = {}
    for column, sql_type in column_types.items():
        if not isinstance(sql_type, str) or not _COLUMN_TYPE.fullmatch(sql_type.strip()):
            raise ProjectConfigError(f"seed {file.name!r}: {sql_type!r} is not a column type", PROJECT_FILE)
        types[normalize_identifier(column, f"a column_types entry of seed {file.name!r}", PROJECT_FILE)] = (
            sql_type.strip().upper()
        )
    return Seed(
        name=file.name,
        path=file.path,
        relative_path=file.relative,
        relation=Relation(normalize_identifier(schema, "schema", file.relative), file.name.upper()),
        description=docs.description if docs else "",
        columns=docs.columns if docs else (),
        column_types=types,
    )


def _check_docs_match(schema_files: SchemaFiles, models: set[str], seeds: set[str]) -> None:
    for docs, names, what, folder in (
        (schema_files.models, models, "model", "a .sql file"),
        (schema_files.seeds, seeds, "seed", "a .csv file"),
    ):
        for name, entry in docs.items():
            if name not in names:
                raise SchemaFileError(f"{what} {name!r} is described, but there is no {folder} named so", entry.path)


def _check_cycles(seeds: Collection[str], files: Mapping[str, _File], refs: Mapping[str, Sequence[Call]]) -> Graph:
    """The graph of seeds and models, or a CycleError at the ref() that closes a cycle."""
    parents = {name: [call.target for call in calls] for name, calls in refs.items()}
    graph = Graph({**dict.fromkeys(seeds, ()), **parents})
    cycle = graph.find_cycle()
    if cycle is None:
        return graph
    line = next((call.line for call in refs[cycle[0]] if call.target == cycle[1]), None)
    raise CycleError(f"ref({cycle[1]!r}) closes a cycle: {' -> '.join(cycle)}", files[cycle[0]].relative, line)


def _declared(rendered: Rendered, namespace: RelationNamespace) -> Iterator[Relation]:
    for call in rendered.refs:
        relation = namespace.ref(call.target)
        if relation is not None:
            yield relation
    for call in rendered.sources:
        source_name, _, table = call.target.partition(".")
        relation = namespace.source(source_name, table)
        if relation is not None:
            yield relation


def _suggestions(relations: Mapping[str, Relation], sources: Mapping[str, SourceTable]) -> dict[tuple[str, str], str]:
    found = {(r.schema, r.name): f"{{{{ ref('{name}') }}}}" for name, r in relations.items()}
    for table in sources.values():
        found[(table.relation.schema, table.relation.name)] = f"{{{{ source('{table.source_name}', '{table.name}') }}}}"
    return found


def _unique_calls(calls: list[Call]) -> tuple[Call, ...]:
    seen: dict[str, Call] = {}
    for call in calls:
        seen.setdefault(call.target, call)
    return tuple(seen.values())


def _tests(
    schema_files: SchemaFiles,
    nodes: Mapping[str, Model | Seed],
    renderer: Renderer,
    namespace: RelationNamespace,
) -> tuple[DataTest, ...]:
    tests: list[DataTest] = []
    for docs in [*schema_files.models.values(), *schema_files.seeds.values()]:
        if docs.name not in nodes:
            continue
        names: set[str] = set()
        for declaration in docs.tests:
            test = _test(declaration, docs.name, renderer, namespace)
            if test.name in names:
                raise SchemaFileError(
                    f"two tests on {docs.name!r} are both named {test.name!r}: give one a `name:`",
                    declaration.path,
                    declaration.line,
                )
            names.add(test.name)
            tests.append(test)
    return tuple(tests)


def _test(declaration: DataTestDeclaration, node: str, renderer: Renderer, namespace: RelationNamespace) -> DataTest:
    where = (declaration.path, declaration.line)
    column = normalize_identifier(declaration.column, "the tested column", *where)
    name = declaration.name or f"{declaration.test_type}_{declaration.column.lower()}"
    if not _TEST_NAME.fullmatch(name):
        raise SchemaFileError(f"test name {name!r} must be letters, digits and _", *where)
    arguments = declaration.arguments
    common = {
        "name": name,
        "test_type": declaration.test_type,
        "node": node,
        "column": column,
        "severity": declaration.severity,
        "path": declaration.path,
        "line": declaration.line,
    }
    if declaration.test_type == "accepted_values":
        values = arguments["values"]
        if not isinstance(values, list) or not values or not all(isinstance(v, str | int | float) for v in values):
            raise SchemaFileError("accepted_values needs a non-empty list of `values` (text or numbers)", *where)
        quote = arguments.get("quote", True)
        if not isinstance(quote, bool):
            raise SchemaFileError("accepted_values: `quote` must be true or false", *where)
        if not quote and not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            raise SchemaFileError("accepted_values with `quote: false` takes numbers only", *where)
        return DataTest(**common, values=tuple(values), quote_values=quote)
    if declaration.test_type == "relationships":
        target = arguments["to"]
        if not isinstance(target, str):
            raise SchemaFileError("relationships: `to` must be ref('model') or source('name', 'table')", *where)
        rendered = renderer.render_expression(target, namespace, *where)
        calls = rendered.refs or rendered.sources
        if len(calls) != 1:
            raise SchemaFileError("relationships: `to` must be ref('model') or source('name', 'table')", *where)
        to_node = rendered.refs[0].target if rendered.refs else None
        source_name, _, table = rendered.sources[0].target.partition(".") if rendered.sources else ("", "", "")
        relation = namespace.ref(to_node) if to_node else namespace.source(source_name, table)
        field = normalize_identifier(arguments["field"], "relationships `field`", *where)
        return DataTest(**common, to=relation, to_node=to_node, field=field)
    return DataTest(**common)
