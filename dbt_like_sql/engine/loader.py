"""Load a project folder: files, configs, docs, graph and a sqlglot check of every model.

Two passes, as dbt parses then compiles: the first renders each model only to learn its
config(), ref() and source() calls (a model's schema can come from its own config(), so no
relation is known before every file is read); the second renders with the real relations and
checks the SQL. Everything that can be wrong with the files is found here, at load time.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from dbt_like_sql.engine.blocks import TEST_PREFIX, DocsBlock, read_docs_blocks
from dbt_like_sql.engine.ephemeral import cte_name, ephemeral_order, with_ctes
from dbt_like_sql.engine.errors import (
    CycleError,
    ProjectConfigError,
    SchemaFileError,
    SqlSyntaxError,
    UnknownRefError,
)
from dbt_like_sql.engine.graph import Graph
from dbt_like_sql.engine.nodes import (
    MATERIALIZATIONS,
    SEVERITIES,
    Call,
    ColumnDoc,
    DataTest,
    Hook,
    Model,
    ModelConfig,
    Seed,
    SourceTable,
)
from dbt_like_sql.engine.packages import installed_packages
from dbt_like_sql.engine.project import Project, RelationNamespace, clean_sql
from dbt_like_sql.engine.project_file import (
    HOOK_KEYS,
    MODEL_CONFIG_KEYS,
    PROJECT_FILE,
    SEED_CONFIG_KEYS,
    SNAPSHOT_CONFIG_KEYS,
    ProjectFile,
    hook_list,
    load_project_file,
)
from dbt_like_sql.engine.quoting import Relation, normalize_identifier
from dbt_like_sql.engine.render import Rendered, Renderer
from dbt_like_sql.engine.schema_files import (
    TEST_TYPES,
    DataTestDeclaration,
    NodeDocs,
    SchemaFiles,
    SourceDeclaration,
    load_schema_files,
)
from dbt_like_sql.engine.snapshots import Snapshot, SnapshotConfig, snapshot_config
from dbt_like_sql.engine.sql_check import check_model_sql, parse_select
from dbt_like_sql.engine.target import DEFAULT_TARGET, Target, load_target

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


def load_project(
    project_dir: Path,
    sources: Sequence[SourceDeclaration] = (),
    target: Target | None = None,
    target_name: str | None = None,
    profiles_dir: Path | None = None,
) -> Project:
    """The validated project in `project_dir`; any problem raises an error naming file and line.

    `sources` are source tables declared outside the project's schema files (Baton derives its
    RAW tables from the dataset catalogue), each naming the file it comes from; one declared in
    both places is an error naming both. `target` stands when no profiles.yml holds the
    project's profile; `target_name` and `profiles_dir` are dbt's `--target` and `--profiles-dir`.
    """
    project_dir = project_dir.resolve()
    project_file = load_project_file(project_dir)
    target = load_target(project_file.profile, target or DEFAULT_TARGET, target_name, profiles_dir)
    model_files = _discover(project_dir, project_file.model_paths, ".sql")
    seed_files = _discover(project_dir, project_file.seed_paths, ".csv")
    test_files = [f for f in _discover(project_dir, project_file.test_paths, ".sql") if f.folders[:1] != ("generic",)]
    snapshot_files = _discover(project_dir, project_file.snapshot_paths, ".sql", names=False)
    _check_unique_names([*model_files, *seed_files])
    macro_files = {project_file.name: _macro_files(project_dir, project_file)}
    for package in installed_packages(project_dir, project_file.packages_install_path):
        if package.name == project_file.name:
            raise ProjectConfigError(f"a package may not share the project's name {package.name!r}", PROJECT_FILE)
        macro_files[package.name] = _macro_files(project_dir, package.project, package.path)
    renderer = Renderer(project_dir, project_file.name, project_file.vars, target, macro_files)
    docs_blocks = read_docs_blocks(project_dir, project_file.docs_paths)
    generic_tests = {**dict.fromkeys(TEST_TYPES, "built-in"), **_generic_test_macros(renderer)}
    documented = (*project_file.model_paths, *project_file.seed_paths, *project_file.snapshot_paths)
    schema_files = load_schema_files(project_dir, documented, generic_tests)
    schema_files = _with_docs(_with_sources(schema_files, sources), renderer, docs_blocks)
    _check_docs_match(schema_files, {f.name for f in model_files}, {f.name for f in seed_files})
    sources = _sources(schema_files)
    renderer.set_graph_sources(_graph_sources(project_file.name, sources))

    names = {f.name for f in [*model_files, *seed_files]}
    parsed_snapshots = _parse_snapshots(snapshot_files, renderer, _ParseNamespace(names, sources))
    _check_unique_names([*model_files, *seed_files, *(file for file, _ in parsed_snapshots.values())])
    _check_snapshot_docs(schema_files, set(parsed_snapshots))
    parse_namespace = _ParseNamespace(names | set(parsed_snapshots), sources)
    schemas = _SchemaNames(renderer, parse_namespace)
    seeds = _seeds(seed_files, project_file, schema_files, schemas)
    parsed = _parse_models(model_files, project_file, schema_files, renderer, parse_namespace, schemas)
    snapshot_setups = {
        name: _snapshot_setup(file, first, project_file, schema_files, schemas)
        for name, (file, first) in parsed_snapshots.items()
    }
    relations = {name: seed.relation for name, seed in seeds.items()}
    relations.update({name: relation for name, (_, relation) in snapshot_setups.items()})
    relations.update(
        {
            name: Relation(
                config.schema, name.upper(), cte=cte_name(name) if config.materialized == "ephemeral" else None
            )
            for name, (_, _, config) in parsed.items()
        }
    )
    files = {name: file for name, (file, _, _) in parsed.items()}
    files.update({name: file for name, (file, _) in parsed_snapshots.items()})
    first_refs = {name: first.refs for name, (_, first, _) in parsed.items()}
    _check_cycles(seeds, files, {**first_refs, **{name: first.refs for name, (_, first) in parsed_snapshots.items()}})

    namespace = RelationNamespace(relations, sources)
    suggestions = _suggestions(relations, sources)
    models = _compile_models(parsed, schema_files, renderer, namespace, suggestions)
    snapshots = _compile_snapshots(parsed_snapshots, snapshot_setups, schema_files, renderer, namespace, suggestions)
    all_refs = {name: node.refs for name, node in [*models.items(), *snapshots.items()]}
    graph = _check_cycles(seeds, files, all_refs)
    tests = _tests(schema_files, {**models, **seeds, **snapshots}, renderer, namespace)
    tests += _singular_tests(test_files, renderer, namespace, graph)
    _check_test_names(tests)
    return Project(
        project_dir=project_dir,
        name=project_file.name,
        target=target,
        models=models,
        seeds=seeds,
        snapshots=snapshots,
        sources=sources,
        tests=tests,
        graph=graph,
        renderer=renderer,
        namespace=namespace,
    )


_Parsed = dict[str, tuple[_File, Rendered, ModelConfig]]


class _SchemaNames:
    """dbt's `generate_schema_name`: the project's macro of that name, or dbt's default.

    The default builds a node without a custom schema in the target's schema, and one with a
    custom schema in `<target schema>_<custom schema>`.
    """

    def __init__(self, renderer: Renderer, namespace: _ParseNamespace) -> None:
        self.renderer = renderer
        self._namespace = namespace
        self._macro = renderer.macros.find("generate_schema_name")

    def __call__(self, custom: Any, file: _File, resource_type: str, line: int | None) -> str:
        if custom is not None and not isinstance(custom, str):
            raise ProjectConfigError(f"schema must be a name, not {custom!r}", file.relative, line)
        target_schema = self.renderer.target.schema
        if self._macro is None:
            schema = target_schema if not custom else f"{target_schema}_{custom.strip()}"
            return normalize_identifier(schema, "schema", file.relative, line)
        node = {
            "name": file.name,
            "resource_type": resource_type,
            "path": file.relative,
            "original_file_path": file.relative,
        }
        value, _ = self.renderer.call_macro(
            "generate_schema_name", {"custom_schema_name": custom, "node": node}, self._namespace, file.relative, line
        )
        what = f"the schema generate_schema_name ({self._macro.location}) gave"
        return normalize_identifier(str(value).strip(), what, file.relative, line)


def _macro_files(project_dir: Path, project_file: ProjectFile, under: str = "") -> list[str]:
    """The macro files of the project (or of a package installed `under`): `macro-paths`, `<test-path>/generic/`."""
    folders = [*project_file.macro_paths, *(f"{folder}/generic" for folder in project_file.test_paths)]
    prefix = f"{under}/" if under else ""
    return [file.relative for file in _discover(project_dir, tuple(prefix + f for f in folders), ".sql", names=False)]


def _generic_test_macros(renderer: Renderer) -> dict[str, str]:
    """Test names a schema.yml may use, from `{% test %}` blocks: `name` in the project, `package.name` in packages."""
    found = {}
    for package, macros in renderer.macros.definitions.items():
        for name, definition in macros.items():
            if name.startswith(TEST_PREFIX):
                bare = name[len(TEST_PREFIX) :]
                found[bare if package == renderer.macros.root else f"{package}.{bare}"] = definition.location
    return found


def _with_docs(schema_files: SchemaFiles, renderer: Renderer, blocks: Mapping[str, DocsBlock]) -> SchemaFiles:
    """Descriptions rendered, so `{{ doc('name') }}` becomes the text of that `{% docs %}` block."""

    def render(text: str, path: str, line: int | None) -> str:
        if "{{" not in text and "{%" not in text:
            return text

        def doc(name: str) -> str:
            if name not in blocks:
                hint = get_close_matches(name, sorted(blocks), n=1)
                raise SchemaFileError(
                    f"doc({name!r}) names no docs block" + (f"; did you mean {hint[0]!r}?" if hint else ""), path, line
                )
            return blocks[name].text

        namespace = _ParseNamespace((), {})
        return renderer.render_text(text, namespace, path, line, {"doc": doc}).sql.strip()

    def node(docs: NodeDocs) -> NodeDocs:
        columns = tuple(ColumnDoc(c.name, render(c.description, docs.path, docs.line)) for c in docs.columns)
        return replace(docs, description=render(docs.description, docs.path, docs.line), columns=columns)

    def source(declared: SourceDeclaration) -> SourceDeclaration:
        columns = tuple(
            ColumnDoc(c.name, render(c.description, declared.path, declared.line)) for c in declared.columns
        )
        return replace(
            declared, description=render(declared.description, declared.path, declared.line), columns=columns
        )

    return SchemaFiles(
        models={name: node(docs) for name, docs in schema_files.models.items()},
        seeds={name: node(docs) for name, docs in schema_files.seeds.items()},
        sources={key: source(declared) for key, declared in schema_files.sources.items()},
        snapshots={name: node(docs) for name, docs in schema_files.snapshots.items()},
    )


def _seeds(
    seed_files: list[_File], project_file: ProjectFile, schema_files: SchemaFiles, schemas: _SchemaNames
) -> dict[str, Seed]:
    seeds: dict[str, Seed] = {}
    for file in seed_files:
        docs = schema_files.seeds.get(file.name)
        _check_config_keys(docs.config if docs else {}, SEED_CONFIG_KEYS, *_docs_location(docs))
        config = {**project_file.seed_config(file.folders, file.name), **(docs.config if docs else {})}
        if config.get("enabled", True) is not False:
            seed = _seed(file, config, docs, schemas(config.get("schema"), file, "seed", None))
            seeds[file.name] = replace(
                seed, grants=_grants(config.get("grants"), schemas.renderer, file.relative, None)
            )
    return seeds


def _parse_models(
    model_files: list[_File],
    project_file: ProjectFile,
    schema_files: SchemaFiles,
    renderer: Renderer,
    namespace: _ParseNamespace,
    schemas: _SchemaNames,
) -> _Parsed:
    """First pass: each enabled model's calls and its config (project file < schema.yml < config())."""
    parsed: _Parsed = {}
    disabled: set[str] = set()
    for file in model_files:
        first = renderer.render(file.relative, namespace, Relation("PARSING", file.name.upper()), False)
        docs = schema_files.models.get(file.name)
        _check_config_keys(_normalized_keys(docs.config) if docs else {}, MODEL_CONFIG_KEYS, *_docs_location(docs))
        for key, line in first.config_lines.items():
            _check_config_keys({key: None}, MODEL_CONFIG_KEYS, file.relative, line)
        levels = [
            (project_file.model_config(file.folders, file.name), PROJECT_FILE, None),
            (_normalized_keys(docs.config) if docs else {}, *_docs_location(docs)),
            (first.config, file.relative, None),
        ]
        config = {key: value for level, _, _ in levels for key, value in level.items()}
        if config.get("enabled", True) is False:
            disabled.add(file.name)
            continue
        config.update(_hooks(levels, first.config_lines))
        schema = schemas(config.get("schema"), file, "model", first.config_lines.get("schema"))
        model_config = _model_config(config, schema, file.relative, first.config_lines, renderer)
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
    """Second pass: render with the real relations, inline ephemerals, check the SQL (each incremental branch)."""
    renders: dict[str, list[Rendered]] = {}
    for name, (file, _, config) in parsed.items():
        relation = namespace.ref(name)
        assert relation is not None
        renders[name] = [renderer.render(file.relative, namespace, relation, False)]
        if config.materialized == "incremental":
            renders[name].append(renderer.render(file.relative, namespace, relation, True))
    ephemeral = {name: config.materialized == "ephemeral" for name, (_, _, config) in parsed.items()}

    def refs_of(node: str) -> list[str]:
        return [call.target for rendered in renders.get(node, []) for call in rendered.refs]

    models: dict[str, Model] = {}
    for name, (file, _, config) in parsed.items():
        relation = namespace.ref(name)
        assert relation is not None
        text = file.path.read_text(encoding="utf-8")
        inlined = ephemeral_order(name, refs_of, ephemeral)
        ctes = tuple((cte_name(other), clean_sql(renders[other][0].sql)) for other in inlined)
        declared = [
            r for node in [name, *inlined] for rendered in renders[node] for r in _declared(rendered, namespace)
        ]
        for rendered in renders[name]:
            check_model_sql(
                with_ctes(clean_sql(rendered.sql), ctes), [*declared, relation], file.relative, text, suggestions
            )
        rendered = renders[name][0]
        docs = schema_files.models.get(name)
        models[name] = Model(
            name=name,
            path=file.path,
            relative_path=file.relative,
            raw_sql=text,
            config=_compiled_hooks(config, renderer, namespace, relation),
            relation=relation,
            description=docs.description if docs else "",
            columns=docs.columns if docs else (),
            refs=_unique_calls([call for r in renders[name] for call in r.refs]),
            sources=_unique_calls([call for r in renders[name] for call in r.sources]),
            compiled_sql=with_ctes(clean_sql(rendered.sql), ctes),
            ctes=ctes,
        )
    return models


def _parse_snapshots(
    files: Sequence[_File], renderer: Renderer, namespace: _ParseNamespace
) -> dict[str, tuple[_File, Rendered]]:
    """First pass over `{% snapshot %}` files: each block's name, config() and calls."""
    found: dict[str, tuple[_File, Rendered]] = {}
    for file in files:
        first = renderer.render(file.relative, namespace, Relation("PARSING", file.name.upper()), False)
        if first.snapshot is None:
            raise ProjectConfigError(
                "a snapshot file holds one {% snapshot name %} ... {% endsnapshot %} block", file.relative
            )
        name = first.snapshot
        normalize_identifier(name, "the snapshot name", file.relative)
        if name in found:
            raise ProjectConfigError(f"snapshot {name!r} is also defined in {found[name][0].relative}", file.relative)
        found[name] = (replace(file, name=name), first)
    return found


def _check_snapshot_docs(schema_files: SchemaFiles, names: set[str]) -> None:
    for name, entry in schema_files.snapshots.items():
        if name not in names:
            raise SchemaFileError(
                f"snapshot {name!r} is described, but no {{% snapshot %}} block is named so", entry.path
            )


def _snapshot_setup(
    file: _File, first: Rendered, project_file: ProjectFile, schema_files: SchemaFiles, schemas: _SchemaNames
) -> tuple[SnapshotConfig, Relation]:
    """A snapshot's config (project file < schema.yml < config()) and the relation it builds."""
    docs = schema_files.snapshots.get(file.name)
    _check_config_keys(docs.config if docs else {}, SNAPSHOT_CONFIG_KEYS, *_docs_location(docs))
    for key, line in first.config_lines.items():
        _check_config_keys({key: None}, SNAPSHOT_CONFIG_KEYS, file.relative, line)
    config = {**project_file.snapshot_config(file.folders, file.name), **(docs.config if docs else {}), **first.config}
    lines = first.config_lines
    if config.get("target_schema"):  # dbt's older spelling: the schema as named, no generate_schema_name
        schema = normalize_identifier(
            config["target_schema"], "target_schema", file.relative, lines.get("target_schema")
        )
    else:
        schema = schemas(config.get("schema"), file, "snapshot", lines.get("schema"))
    setup = snapshot_config(config, file.relative, lines)
    grants = _grants(config.get("grants"), schemas.renderer, file.relative, lines.get("grants"))
    return replace(setup, grants=grants), Relation(schema, file.name.upper())


def _compile_snapshots(
    parsed: Mapping[str, tuple[_File, Rendered]],
    setups: Mapping[str, tuple[SnapshotConfig, Relation]],
    schema_files: SchemaFiles,
    renderer: Renderer,
    namespace: RelationNamespace,
    suggestions: Mapping[tuple[str, str], str],
) -> dict[str, Snapshot]:
    snapshots = {}
    for name, (file, _) in parsed.items():
        config, relation = setups[name]
        rendered = renderer.render(file.relative, namespace, relation, False)
        text = file.path.read_text(encoding="utf-8")
        check_model_sql(rendered.sql, [*_declared(rendered, namespace), relation], file.relative, text, suggestions)
        for call in rendered.refs:
            ref = namespace.ref(call.target)
            if ref is not None and ref.cte is not None:
                raise ProjectConfigError(
                    f"a snapshot cannot read the ephemeral {call.target!r}", file.relative, call.line
                )
        docs = schema_files.snapshots.get(name)
        snapshots[name] = Snapshot(
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
    return snapshots


def _normalized_keys(config: Mapping[str, Any]) -> dict[str, Any]:
    """schema.yml configs with dbt's spellings `pre-hook`/`post-hook` as the engine's `pre_hook`/`post_hook`."""
    return {key.replace("-", "_"): value for key, value in config.items()}


def _hooks(
    levels: Sequence[tuple[Mapping[str, Any], str | None, int | None]], config_lines: Mapping[str, int | None]
) -> dict[str, tuple[Hook, ...]]:
    """Hooks add up from the project file down to the model's config(), each kept with where it was written."""
    found: dict[str, list[Hook]] = {key: [] for key in HOOK_KEYS}
    for level, path, line in levels:
        for key in HOOK_KEYS:
            for statement in hook_list(level.get(key)):
                where = config_lines.get(key) if level is levels[-1][0] else line
                if not isinstance(statement, str):
                    raise ProjectConfigError(f"{key} must be SQL text or a list of it, not {statement!r}", path, where)
                found[key].append(Hook(statement, path or PROJECT_FILE, where))
    return {key: tuple(hooks) for key, hooks in found.items()}


def _compiled_hooks(
    config: ModelConfig, renderer: Renderer, namespace: RelationNamespace, this: Relation
) -> ModelConfig:
    """The hooks rendered as they run: Jinja in them sees `this`, the model's own relation."""

    def compiled(hooks: tuple[Hook, ...]) -> tuple[Hook, ...]:
        return tuple(
            replace(
                hook, sql=renderer.render_text(hook.sql, namespace, hook.path, hook.line, {"this": this}).sql.strip()
            )
            for hook in hooks
        )

    return replace(config, pre_hook=compiled(config.pre_hook), post_hook=compiled(config.post_hook))


def _grants(value: Any, renderer: Renderer, path: str, line: int | None) -> dict[str, tuple[str, ...]]:
    """dbt's `grants: {select: [role, ...]}`: privileges to roles; a role may be Jinja (`env_var()`)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ProjectConfigError(
            f"grants must map privileges to roles, e.g. {{select: [analyst]}}, not {value!r}", path, line
        )
    grants: dict[str, tuple[str, ...]] = {}
    for privilege, roles in value.items():
        if not isinstance(privilege, str) or not re.fullmatch(r"[A-Za-z][A-Za-z ]*", privilege):
            raise ProjectConfigError(f"grants: {privilege!r} is not a privilege", path, line)
        names = [roles] if isinstance(roles, str) else roles
        if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
            raise ProjectConfigError(f"grants.{privilege}: give a role or a list of roles", path, line)
        rendered = [
            renderer.render_text(n, _ParseNamespace((), {}), path, line).sql.strip() if "{" in n else n for n in names
        ]
        grants[privilege.strip().upper()] = tuple(
            normalize_identifier(n, f"grants.{privilege} role", path, line) for n in rendered
        )
    return grants


def _discover(project_dir: Path, folders: tuple[str, ...], suffix: str, names: bool = True) -> list[_File]:
    """Files with `suffix` under the folders; the file name (without suffix) is the node's name (when `names`)."""
    found = []
    for folder in folders:
        root = project_dir / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob(f"*{suffix}")):
            relative = path.relative_to(project_dir).as_posix()
            name = path.name[: -len(suffix)]
            if names:
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
    return replace(schema_files, sources=sources)


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
    config: Mapping[str, Any], schema: str, path: str, lines: Mapping[str, int | None], renderer: Renderer
) -> ModelConfig:
    grants = _grants(config.get("grants"), renderer, path, lines.get("grants"))
    materialized = config.get("materialized", "view")
    if materialized not in MATERIALIZATIONS:
        raise ProjectConfigError(
            f"materialized={materialized!r} is not one of {', '.join(MATERIALIZATIONS)}",
            path,
            lines.get("materialized"),
        )
    unique_key = config.get("unique_key") or ()
    keys = [unique_key] if isinstance(unique_key, str) else unique_key
    if not isinstance(keys, list | tuple):
        raise ProjectConfigError("unique_key must be a column name or a list of them", path, lines.get("unique_key"))
    return ModelConfig(
        materialized=materialized,
        schema=schema,
        unique_key=tuple(normalize_identifier(k, "unique_key column", path, lines.get("unique_key")) for k in keys),
        pre_hook=config.get("pre_hook", ()),
        post_hook=config.get("post_hook", ()),
        grants=grants,
    )


def _seed(file: _File, config: Mapping[str, Any], docs: NodeDocs | None, schema: str) -> Seed:
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
        relation=Relation(schema, file.name.upper()),
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
    nodes: Mapping[str, Model | Seed | Snapshot],
    renderer: Renderer,
    namespace: RelationNamespace,
) -> tuple[DataTest, ...]:
    tests: list[DataTest] = []
    for docs in [*schema_files.models.values(), *schema_files.seeds.values(), *schema_files.snapshots.values()]:
        node = nodes.get(docs.name)
        if isinstance(node, Model) and node.ephemeral and docs.tests:
            first = docs.tests[0]
            raise SchemaFileError(
                f"{docs.name!r} is ephemeral, never built, so it cannot be tested", first.path, first.line
            )
        if node is not None:
            tests.extend(_test(declaration, nodes[docs.name], renderer, namespace) for declaration in docs.tests)
    return tuple(tests)


def _singular_tests(
    files: Sequence[_File], renderer: Renderer, namespace: RelationNamespace, graph: Graph
) -> tuple[DataTest, ...]:
    """`tests/*.sql`: each a query returning the rows that fail, belonging to the last built node it reads."""
    tests = []
    for file in files:
        rendered = renderer.render(file.relative, namespace, Relation("DBT_TEST", file.name.upper()), False)
        for key, line in rendered.config_lines.items():
            if key != "severity":
                raise ProjectConfigError(
                    f"a singular test takes only config(severity=...), not {key!r}", file.relative, line
                )
        severity = str(rendered.config.get("severity", "error")).lower()
        if severity not in SEVERITIES:
            raise ProjectConfigError(
                f"severity must be one of {', '.join(SEVERITIES)}", file.relative, rendered.config_lines.get("severity")
            )
        reads = [call.target for call in _unique_calls(rendered.refs)]
        if not reads:
            raise ProjectConfigError("a singular test must ref() the model or seed it tests", file.relative)
        for call in rendered.refs:
            relation = namespace.ref(call.target)
            if relation is not None and relation.cte is not None:
                raise ProjectConfigError(
                    f"{call.target!r} is ephemeral: test the models that read it", file.relative, call.line
                )
        sql = clean_sql(rendered.sql)
        parse_select(sql, file.relative)
        tests.append(
            DataTest(
                name=file.name,
                test_type="singular",
                node=graph.topological(set(reads))[-1],
                column=None,
                severity=severity,
                path=file.relative,
                line=None,
                sql=sql,
                reads=tuple(reads),
            )
        )
    return tuple(tests)


def _check_test_names(tests: Sequence[DataTest]) -> None:
    """Each test of a node has its own name: it is the name of the node's asset check."""
    seen: dict[tuple[str, str], DataTest] = {}
    for test in tests:
        first = seen.setdefault((test.node, test.name), test)
        if first is not test:
            raise SchemaFileError(
                f"two tests of {test.node!r} are both named {test.name!r} (the other: {first.location}): "
                "give one a `name:`",
                test.path,
                test.line,
            )


def _test(
    declaration: DataTestDeclaration, node: Model | Seed | Snapshot, renderer: Renderer, namespace: RelationNamespace
) -> DataTest:
    where = (declaration.path, declaration.line)
    column = normalize_identifier(declaration.column, "the tested column", *where) if declaration.column else None
    suffix = f"_{declaration.column.lower()}" if declaration.column else ""
    name = declaration.name or f"{declaration.test_type.replace('.', '_')}{suffix}"
    if not _TEST_NAME.fullmatch(name):
        raise SchemaFileError(f"test name {name!r} must be letters, digits and _", *where)
    common = {
        "name": name,
        "test_type": declaration.test_type,
        "node": node.name,
        "column": column,
        "severity": declaration.severity,
        "path": declaration.path,
        "line": declaration.line,
    }
    if declaration.test_type == "relationships":
        target = declaration.arguments["to"]
        if not isinstance(target, str):
            raise SchemaFileError("relationships: `to` must be ref('model') or source('name', 'table')", *where)
        rendered = renderer.render_expression(target, namespace, *where)
        calls = rendered.refs or rendered.sources
        if len(calls) != 1:
            raise SchemaFileError("relationships: `to` must be ref('model') or source('name', 'table')", *where)
        to_node = rendered.refs[0].target if rendered.refs else None
        source_name, _, table = rendered.sources[0].target.partition(".") if rendered.sources else ("", "", "")
        relation = namespace.ref(to_node) if to_node else namespace.source(source_name, table)
        common.update(to=relation, to_node=to_node)
    macro = _test_macro(declaration.test_type)
    if declaration.test_type not in TEST_TYPES or renderer.macros.find(macro) is not None:
        return _macro_test(declaration, node, macro, renderer, namespace, common)
    arguments = declaration.arguments
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
        field = normalize_identifier(arguments["field"], "relationships `field`", *where)
        return DataTest(**common, field=field)
    return DataTest(**common)


def _test_macro(test_type: str) -> str:
    """The macro of a generic test: `test_<name>`, or `package.test_<name>`."""
    package, _, bare = test_type.rpartition(".")
    return f"{package}.{TEST_PREFIX}{bare}" if package else f"{TEST_PREFIX}{bare}"


def _macro_test(
    declaration: DataTestDeclaration,
    node: Model | Seed | Snapshot,
    macro: str,
    renderer: Renderer,
    namespace: RelationNamespace,
    common: dict[str, Any],
) -> DataTest:
    """A generic test written as a `{% test %}` block: called with the model, the column and the arguments."""
    where = (declaration.path, declaration.line)
    reads: list[Call] = []
    arguments = {}
    for key, value in declaration.arguments.items():
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            rendered = renderer.render_text(value, namespace, *where)
            reads.extend(rendered.refs)
            value = rendered.sql
        arguments[key] = common["to"] if key == "to" and common.get("to") is not None else value
    kwargs = {"model": node.relation, **arguments}
    if declaration.column is not None:
        kwargs["column_name"] = declaration.column
    definition = renderer.macros.find(macro)
    assert definition is not None
    missing = [argument for argument in definition.required if argument not in kwargs]
    if missing:
        raise SchemaFileError(
            f"{declaration.test_type} ({definition.location}) needs argument(s) {', '.join(missing)}", *where
        )
    value, rendered = renderer.call_macro(macro, kwargs, namespace, *where)
    reads.extend(rendered.refs)
    sql = clean_sql(str(value))
    try:
        parse_select(sql, declaration.path)
    except SqlSyntaxError as exc:
        raise SqlSyntaxError(f"{exc.detail} (compiled by {definition.location})", *where) from exc
    others = tuple(dict.fromkeys(call.target for call in reads if call.target != node.name))
    return DataTest(**common, sql=sql, reads=others)
