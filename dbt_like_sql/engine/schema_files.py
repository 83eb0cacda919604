"""schema.yml files: sources, descriptions of models, seeds and columns, and the tests on columns.

The dbt layout (`version: 2` with `models:`, `sources:`, `seeds:`), read with line numbers so
that every complaint, and later every failing test, names the file and line it comes from.
Tests keep their raw arguments here; the loader resolves `to: ref('...')` once relations are
known. A test is one of dbt's four or a generic test the project defines (`{% test %}`), on a
column or, without `column_name`, on the model as a whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbt_like_sql.engine.errors import SchemaFileError
from dbt_like_sql.engine.nodes import SEVERITIES, ColumnDoc
from dbt_like_sql.engine.yaml_lines import line_of, load_yaml

__all__ = ["TEST_TYPES", "DataTestDeclaration", "NodeDocs", "SchemaFiles", "SourceDeclaration", "load_schema_files"]

TEST_TYPES = ("unique", "not_null", "accepted_values", "relationships")
_TOP_KEYS = {"version", "models", "seeds", "snapshots", "sources"}
_NODE_KEYS = {"name", "description", "columns", "config", "meta", "docs", "tests", "data_tests"}
_COLUMN_KEYS = {"name", "description", "tests", "data_tests", "meta", "data_type"}
_SOURCE_KEYS = {"name", "description", "schema", "database", "tables", "meta"}
_SOURCE_TABLE_KEYS = {"name", "identifier", "description", "columns", "meta"}
_TEST_ARGUMENTS = {"accepted_values": {"values", "quote"}, "relationships": {"to", "field"}}
_TEST_KEYS = {"arguments", "config", "name"}


@dataclass(frozen=True)
class DataTestDeclaration:
    test_type: str
    column: str | None  # None: a test of the whole model
    arguments: Mapping[str, Any]
    severity: str
    name: str | None
    path: str
    line: int | None


@dataclass(frozen=True)
class NodeDocs:
    """What a schema.yml says about one model or seed."""

    name: str
    description: str
    columns: tuple[ColumnDoc, ...]
    config: Mapping[str, Any]
    tests: tuple[DataTestDeclaration, ...]
    path: str
    line: int | None


@dataclass(frozen=True)
class SourceDeclaration:
    source_name: str
    name: str
    schema: str
    identifier: str
    database: str | None
    description: str
    columns: tuple[ColumnDoc, ...]
    meta: Mapping[str, Any]
    path: str
    line: int | None


@dataclass(frozen=True)
class SchemaFiles:
    models: Mapping[str, NodeDocs]
    seeds: Mapping[str, NodeDocs]
    sources: Mapping[str, SourceDeclaration]  # "source_name.table_name" -> declaration
    snapshots: Mapping[str, NodeDocs] = field(default_factory=dict)


def load_schema_files(
    project_dir: Path, folders: Iterable[str], generic_tests: Mapping[str, str] | None = None
) -> SchemaFiles:
    """The schema files under `folders`; `generic_tests` names the tests they may use (default: dbt's four)."""
    tests = generic_tests if generic_tests is not None else dict.fromkeys(TEST_TYPES, "built-in")
    models: dict[str, NodeDocs] = {}
    seeds: dict[str, NodeDocs] = {}
    snapshots: dict[str, NodeDocs] = {}
    sources: dict[str, SourceDeclaration] = {}
    paths = sorted({p for folder in folders for p in _yaml_files(project_dir / folder)})
    for path in paths:
        relative = path.relative_to(project_dir).as_posix()
        document = load_yaml(path, relative, SchemaFileError)
        if document is None:
            continue
        if not isinstance(document, Mapping):
            raise SchemaFileError("a schema file must hold a mapping (version:, models:, ...)", relative, 1)
        _check_keys(document, _TOP_KEYS, "the file", relative)
        for entry, line in _entries(document, "models", relative):
            _add_unique(models, _node_docs(entry, relative, line, "model", tests), relative, line, "model")
        for entry, line in _entries(document, "seeds", relative):
            _add_unique(seeds, _node_docs(entry, relative, line, "seed", tests), relative, line, "seed")
        for entry, line in _entries(document, "snapshots", relative):
            _add_unique(snapshots, _node_docs(entry, relative, line, "snapshot", tests), relative, line, "snapshot")
        for entry, line in _entries(document, "sources", relative):
            for declaration in _source_tables(entry, relative, line):
                _add_unique(sources, declaration, relative, declaration.line, "source table")
    return SchemaFiles(models=models, seeds=seeds, sources=sources, snapshots=snapshots)


def _yaml_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file()]


def _entries(document: Mapping[str, Any], key: str, path: str) -> list[tuple[Mapping[str, Any], int | None]]:
    items = document.get(key) or []
    if not isinstance(items, list):
        raise SchemaFileError(f"`{key}` must be a list", path, line_of(document, key))
    found = []
    for index, item in enumerate(items):
        line = line_of(items, index)
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise SchemaFileError(f"each entry of `{key}` must be a mapping with a `name`", path, line)
        found.append((item, line))
    return found


def _add_unique(
    found: dict[str, Any], item: NodeDocs | SourceDeclaration, path: str, line: int | None, what: str
) -> None:
    key = _key(item)
    if key in found:
        raise SchemaFileError(f"{what} {key!r} is declared twice (first in {found[key].path})", path, line)
    found[key] = item


def _key(item: NodeDocs | SourceDeclaration) -> str:
    return f"{item.source_name}.{item.name}" if isinstance(item, SourceDeclaration) else item.name


def _check_keys(mapping: Mapping[str, Any], allowed: set[str], what: str, path: str) -> None:
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise SchemaFileError(
            f"{what}: unsupported key(s) {', '.join(unknown)}; supported: {', '.join(sorted(allowed))}",
            path,
            line_of(mapping, unknown[0]),
        )


def _text(mapping: Mapping[str, Any], key: str, path: str) -> str:
    value = mapping.get(key) or ""
    if not isinstance(value, str):
        raise SchemaFileError(f"`{key}` must be text", path, line_of(mapping, key))
    return value.strip()


def _node_docs(
    entry: Mapping[str, Any], path: str, line: int | None, what: str, generic: Mapping[str, str]
) -> NodeDocs:
    name = entry["name"]
    _check_keys(entry, _NODE_KEYS, f"{what} {name!r}", path)
    config = entry.get("config") or {}
    if not isinstance(config, Mapping):
        raise SchemaFileError(f"{what} {name!r}: `config` must be a mapping", path, line_of(entry, "config"))
    columns, tests = _columns(entry, path, f"{what} {name!r}", generic)
    whole = [t for key in ("tests", "data_tests") for t in _tests(entry, key, None, path, generic)]
    return NodeDocs(name, _text(entry, "description", path), columns, dict(config), (*tests, *whole), path, line)


def _columns(
    entry: Mapping[str, Any], path: str, owner: str, generic: Mapping[str, str] | None
) -> tuple[tuple[ColumnDoc, ...], tuple[DataTestDeclaration, ...]]:
    """The columns and their tests; `generic` None: tests are not allowed here (on sources)."""
    items = entry.get("columns") or []
    if not isinstance(items, list):
        raise SchemaFileError(f"{owner}: `columns` must be a list", path, line_of(entry, "columns"))
    columns: list[ColumnDoc] = []
    tests: list[DataTestDeclaration] = []
    for index, column in enumerate(items):
        line = line_of(items, index)
        if not isinstance(column, Mapping) or not isinstance(column.get("name"), str):
            raise SchemaFileError(f"{owner}: each column must be a mapping with a `name`", path, line)
        name = column["name"]
        _check_keys(column, _COLUMN_KEYS, f"{owner} column {name!r}", path)
        if any(c.name.upper() == name.upper() for c in columns):
            raise SchemaFileError(f"{owner}: column {name!r} is listed twice", path, line)
        columns.append(ColumnDoc(name, _text(column, "description", path)))
        for key in ("tests", "data_tests"):
            if key in column and generic is None:
                raise SchemaFileError(
                    f"{owner}: tests on sources are not supported; test the models that read them",
                    path,
                    line_of(column, key),
                )
            tests.extend(_tests(column, key, name, path, generic or {}))
    return tuple(columns), tuple(tests)


def _tests(
    owner: Mapping[str, Any], key: str, column_name: str | None, path: str, generic: Mapping[str, str]
) -> list[DataTestDeclaration]:
    items = owner.get(key) or []
    where = f"column {column_name!r}" if column_name else "the model's tests"
    if not isinstance(items, list):
        raise SchemaFileError(f"{where}: `{key}` must be a list", path, line_of(owner, key))
    return [_test(item, column_name, path, line_of(items, index), generic) for index, item in enumerate(items)]


def _test(
    item: Any, column: str | None, path: str, line: int | None, generic: Mapping[str, str]
) -> DataTestDeclaration:
    where = f"column {column!r}" if column else "model test"
    if isinstance(item, str):
        test_type, body = item, {}
    elif isinstance(item, Mapping) and len(item) == 1:
        test_type, body = next(iter(item.items()))
        body = body or {}
    else:
        raise SchemaFileError(f"{where}: a test is a name or a mapping {{test_name: {{...}}}}", path, line)
    if test_type not in generic:
        raise SchemaFileError(
            f"{where}: unknown test {test_type!r}; the project has: {', '.join(sorted(generic))}"
            " (a generic test is a {% test %} block in macros/ or tests/generic/)",
            path,
            line,
        )
    owner = f"{test_type} on {column!r}" if column else f"{test_type} on the model"
    if not isinstance(body, Mapping):
        raise SchemaFileError(f"{owner}: the arguments must be a mapping", path, line)
    built_in = test_type in TEST_TYPES
    if built_in and column is None:
        raise SchemaFileError(f"{test_type} tests a column: declare it under the column", path, line)
    allowed = _TEST_ARGUMENTS.get(test_type, set())
    if built_in:
        _check_keys(body, _TEST_KEYS | allowed, owner, path)
    arguments = dict(body.get("arguments") or {})
    if not isinstance(arguments, Mapping):
        raise SchemaFileError(f"{owner}: `arguments` must be a mapping", path, line)
    if built_in:
        _check_keys(arguments, allowed, f"{owner}: arguments", path)
    arguments.update({k: v for k, v in body.items() if k not in _TEST_KEYS and (k in allowed or not built_in)})
    config = body.get("config") or {}
    if not isinstance(config, Mapping):
        raise SchemaFileError(f"{owner}: `config` must be a mapping", path, line)
    _check_keys(config, {"severity"}, f"{owner}: config", path)
    severity = str(config.get("severity", "error")).lower()
    if severity not in SEVERITIES:
        raise SchemaFileError(f"{owner}: severity must be one of {SEVERITIES}", path, line)
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise SchemaFileError(f"{owner}: `name` must be text", path, line)
    missing = sorted(allowed - {"quote"} - set(arguments))
    if missing:
        raise SchemaFileError(f"{owner}: missing argument(s) {', '.join(missing)}", path, line)
    return DataTestDeclaration(test_type, column, arguments, severity, name, path, line)


def _source_tables(entry: Mapping[str, Any], path: str, line: int | None) -> list[SourceDeclaration]:
    source_name = entry["name"]
    _check_keys(entry, _SOURCE_KEYS, f"source {source_name!r}", path)
    tables = entry.get("tables") or []
    if not isinstance(tables, list) or not tables:
        raise SchemaFileError(f"source {source_name!r} needs a list of `tables`", path, line)
    schema = entry.get("schema", source_name)
    database = entry.get("database")
    declarations = []
    for index, table in enumerate(tables):
        table_line = line_of(tables, index)
        if not isinstance(table, Mapping) or not isinstance(table.get("name"), str):
            raise SchemaFileError(f"source {source_name!r}: each table needs a `name`", path, table_line)
        owner = f"source table {source_name}.{table['name']}"
        _check_keys(table, _SOURCE_TABLE_KEYS, owner, path)
        columns, _ = _columns(table, path, owner, None)
        meta = table.get("meta") or {}
        if not isinstance(meta, Mapping):
            raise SchemaFileError(f"{owner}: `meta` must be a mapping", path, line_of(table, "meta"))
        declarations.append(
            SourceDeclaration(
                source_name=source_name,
                name=table["name"],
                schema=schema,
                identifier=table.get("identifier", table["name"]),
                database=database,
                description=_text(table, "description", path) or _text(entry, "description", path),
                columns=columns,
                meta=dict(meta),
                path=path,
                line=table_line,
            )
        )
    return declarations
