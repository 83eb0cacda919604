"""Jinja rendering of a project's files: ref(), source(), config(), var(), env_var(), target, macros.

The same functions a dbt model calls. Each ref() and source() call is recorded with the line
of the model file it sits on (found from the template's own frame), so an unknown name or a
cycle is reported at the line that wrote it. An error raised inside a macro names the macro's
file and line as well as the caller's. Undefined names fail (StrictUndefined) instead of
rendering as empty text, and the sandbox keeps templates away from Python internals.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any, NoReturn, Protocol

import jinja2
import jinja2.sandbox

from dbt_like_sql.engine.blocks import SNAPSHOT_NAME, SnapshotBlocks, TestBlocks
from dbt_like_sql.engine.errors import SqlProjectError, TemplateError, UnknownRefError, UnknownSourceError
from dbt_like_sql.engine.macros import MacroLibrary, MacroReturn, TemplateEnvironment
from dbt_like_sql.engine.nodes import Call
from dbt_like_sql.engine.quoting import Relation
from dbt_like_sql.engine.target import Target, env_var_function

__all__ = ["Namespace", "Rendered", "Renderer"]

_NO_DEFAULT = object()


class Namespace(Protocol):
    """What ref() and source() can name: relations of the project's models, seeds and sources."""

    def ref(self, name: str) -> Relation | None: ...

    def source(self, source_name: str, table_name: str) -> Relation | None: ...

    def ref_names(self) -> Collection[str]: ...

    def source_names(self) -> Collection[str]: ...


@dataclass
class Rendered:
    sql: str
    refs: list[Call] = field(default_factory=list)
    sources: list[Call] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    config_lines: dict[str, int | None] = field(default_factory=dict)
    snapshot: str | None = None  # the name of the {% snapshot %} block the file holds


class Renderer:
    """Renders the project's files; one Jinja environment, so each template compiles once."""

    def __init__(
        self,
        project_dir: Path,
        project_name: str,
        variables: Mapping[str, Any],
        target: Target,
        macro_files: Mapping[str, Sequence[str]] | None = None,
        graph_sources: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """`macro_files`: the macro files of the project and of each package, by project or package name."""
        self._project_dir = project_dir
        self._project_name = project_name
        self._vars = dict(variables)
        self.target = target
        self._graph = {"sources": dict(graph_sources or {})}
        self._env = TemplateEnvironment(
            loader=jinja2.FileSystemLoader(str(project_dir), followlinks=True),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
            extensions=["jinja2.ext.do", TestBlocks, SnapshotBlocks],
        )
        self.macros = MacroLibrary(self._env, project_name, macro_files or {project_name: ()})

    def set_graph_sources(self, graph_sources: Mapping[str, Mapping[str, Any]]) -> None:
        """`graph.sources`, known once the schema files are read (their descriptions render first)."""
        self._graph["sources"] = dict(graph_sources)

    def render(self, relative_path: str, namespace: Namespace, this: Relation, is_incremental: bool) -> Rendered:
        """Render one model file; errors are TemplateError (or unknown ref/source) with the line."""
        try:
            template = self._env.get_template(relative_path)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"Jinja syntax error: {exc.message}", relative_path, exc.lineno) from exc
        result = Rendered(sql="")
        context = self._context(relative_path, namespace, result)
        context.update(this=this, is_incremental=lambda: is_incremental)
        context.update(self.macros.bind(context))
        result.sql = self._render(lambda: template.render(context), relative_path)
        return result

    def render_expression(self, text: str, namespace: Namespace, path: str, line: int | None) -> Rendered:
        """Render a `{{ ... }}` string from YAML (a relationships test's `to:`)."""
        return self.render_text("{{ " + text + " }}", namespace, path, line)

    def render_text(
        self, text: str, namespace: Namespace, path: str, line: int | None, extra: Mapping[str, Any] | None = None
    ) -> Rendered:
        """Render a template string from a YAML file at `path`:`line` (a description, a hook, a grant)."""
        try:
            template = self._env.from_string(text)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"cannot read {text!r}: {exc.message}", path, line) from exc
        result = Rendered(sql="")
        context = self._context(path, namespace, result, fixed_line=line)
        context.update(extra or {})
        context.update(self.macros.bind(context))
        result.sql = self._render(lambda: template.render(context), path, fixed_line=line)
        return result

    def call_macro(
        self,
        name: str,
        kwargs: Mapping[str, Any],
        namespace: Namespace,
        path: str,
        line: int | None,
        extra: Mapping[str, Any] | None = None,
    ) -> tuple[Any, Rendered]:
        """Call the macro `name` (or `package.name`) as a template at `path`:`line` would; its value and calls."""
        result = Rendered(sql="")
        context = self._context(path, namespace, result, fixed_line=line)
        context.update(extra or {})
        bound = self.macros.bind(context)
        package, _, bare = name.rpartition(".")
        macro = getattr(bound[package], bare) if package else bound[bare]
        value = self._render(lambda: macro(**kwargs), path, fixed_line=line)
        result.sql = str(value)
        return value, result

    def _render(self, render: Any, path: str, fixed_line: int | None = None) -> Any:
        try:
            return render()
        except SqlProjectError:
            raise
        except MacroReturn as returned:
            return returned.value
        except Exception as exc:
            locations = self._traceback_locations(exc)
            line = fixed_line or _outermost_line(locations, path)
            raise TemplateError(f"Jinja error: {exc}{_inner(locations, path)}", path, line) from exc

    def _context(
        self, path: str, namespace: Namespace, result: Rendered, fixed_line: int | None = None
    ) -> dict[str, Any]:
        def where() -> tuple[int | None, str]:
            """The line of `path` being rendered, and where inside macros the call was made."""
            locations = self._stack_locations()
            return fixed_line or _outermost_line(locations, path), _inner(locations, path)

        def fail(error: type[SqlProjectError], message: str) -> NoReturn:
            line, inner = where()
            raise error(message + inner, path, line)

        def ref(*args: str, **kwargs: Any) -> Relation:
            if kwargs or not 1 <= len(args) <= 2 or not all(isinstance(a, str) for a in args):
                fail(TemplateError, "ref() takes a model name (or a project name and a model name)")
            if len(args) == 2 and args[0] != self._project_name:
                fail(TemplateError, f"ref({args[0]!r}, ...): models of packages are not supported")
            name = args[-1]
            result.refs.append(Call(name, where()[0]))
            relation = namespace.ref(name)
            if relation is None:
                fail(UnknownRefError, f"ref({name!r}) names no model or seed{_hint(name, namespace.ref_names())}")
            return relation

        def source(source_name: str, table_name: str) -> Relation:
            key = f"{source_name}.{table_name}"
            result.sources.append(Call(key, where()[0]))
            relation = namespace.source(source_name, table_name)
            if relation is None:
                fail(
                    UnknownSourceError,
                    f"source({source_name!r}, {table_name!r}) is not declared in any schema.yml"
                    + _hint(key, namespace.source_names()),
                )
            return relation

        def config(*args: Any, **kwargs: Any) -> str:
            if args:
                fail(TemplateError, "config() takes keyword arguments, e.g. config(materialized='table')")
            result.config.update(kwargs)
            result.config_lines.update(dict.fromkeys(kwargs, where()[0]))
            return ""

        def var(name: str, default: Any = _NO_DEFAULT) -> Any:
            if name in self._vars:
                return self._vars[name]
            if default is _NO_DEFAULT:
                fail(TemplateError, f"var({name!r}) is not set under `vars:` in dbt_project.yml")
            return default

        def env_var(name: str, default: Any = None) -> str:
            return env_var_function(path, where()[0])(name, default)

        def return_(value: Any) -> NoReturn:
            raise MacroReturn(value)

        def raise_compiler_error(message: str) -> NoReturn:
            fail(TemplateError, str(message))

        def snapshot_block(name: str) -> str:
            result.snapshot = name
            return ""

        return {
            "ref": ref,
            "source": source,
            "config": config,
            "var": var,
            "env_var": env_var,
            "target": self.target.context(),
            "project_name": self._project_name,
            "graph": self._graph,
            "return": return_,
            "exceptions": {"raise_compiler_error": raise_compiler_error},
            "log": lambda message, info=False: "",
            SNAPSHOT_NAME: snapshot_block,
        }

    def _relative(self, filename: str) -> str | None:
        """The project-relative name of a template file, None for code that is not one of its templates."""
        if not filename.endswith(".sql"):
            return None  # the engine's own Python may live inside the project folder
        try:
            return Path(filename).relative_to(self._project_dir).as_posix()
        except ValueError:
            return None

    def _stack_locations(self) -> list[tuple[str, int]]:
        """(file, line) of each template frame calling us, innermost first."""
        found = []
        frame = sys._getframe(1)
        while frame is not None:
            relative = self._relative(frame.f_code.co_filename)
            if relative is not None:
                template = self._env.get_template(relative)
                found.append((relative, template.get_corresponding_lineno(frame.f_lineno)))
            frame = frame.f_back  # type: ignore[assignment]
        return found

    def _traceback_locations(self, exc: BaseException) -> list[tuple[str, int]]:
        """(file, line) of the template frames an exception passed through, innermost first.

        Jinja rewrites tracebacks so the template's frames carry template lines.
        """
        frames = traceback.extract_tb(exc.__traceback__)
        found = [(self._relative(f.filename), f.lineno) for f in frames if f.filename and f.lineno]
        return [(relative, line) for relative, line in reversed(found) if relative is not None]


def _outermost_line(locations: Sequence[tuple[str, int]], path: str) -> int | None:
    lines = [line for relative, line in locations if relative == path]
    return lines[-1] if lines else None


def _inner(locations: Sequence[tuple[str, int]], path: str) -> str:
    """` (in macros/a.sql:3, called from macros/b.sql:7)` for the macro frames above `path`'s own."""
    inner = []
    for relative, line in locations:
        if relative == path:
            break
        if f"{relative}:{line}" not in inner:
            inner.append(f"{relative}:{line}")
    if not inner:
        return ""
    return f" (in {inner[0]}" + "".join(f", called from {where}" for where in inner[1:]) + ")"


def _hint(name: str, known: Collection[str]) -> str:
    close = get_close_matches(name, sorted(known), n=3)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
