"""Jinja rendering of a model: ref(), source(), config(), var(), is_incremental() and this.

The same functions a dbt model calls. Each ref() and source() call is recorded with the line
of the model file it sits on (found from the template's own frame), so an unknown name or a
cycle is reported at the line that wrote it. Undefined names fail (StrictUndefined) instead of
rendering as empty text, and the sandbox keeps templates away from Python internals.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Protocol

import jinja2
import jinja2.sandbox

from dbt_like_sql.engine.errors import SqlProjectError, TemplateError, UnknownRefError, UnknownSourceError
from dbt_like_sql.engine.nodes import Call
from dbt_like_sql.engine.quoting import Relation

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


class Renderer:
    """Renders the project's files; one Jinja environment, so each template compiles once."""

    def __init__(
        self,
        project_dir: Path,
        project_name: str,
        variables: Mapping[str, Any],
        graph_sources: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._project_name = project_name
        self._vars = dict(variables)
        self._graph = {"sources": dict(graph_sources or {})}
        self._env = jinja2.sandbox.SandboxedEnvironment(
            loader=jinja2.FileSystemLoader(str(project_dir)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
            extensions=["jinja2.ext.do"],
        )

    def render(self, relative_path: str, namespace: Namespace, this: Relation, is_incremental: bool) -> Rendered:
        """Render one model file; errors are TemplateError (or unknown ref/source) with the line."""
        try:
            template = self._env.get_template(relative_path)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"Jinja syntax error: {exc.message}", relative_path, exc.lineno) from exc
        result = Rendered(sql="")
        context = self._context(template, relative_path, namespace, result)
        context.update(this=this, is_incremental=lambda: is_incremental)
        result.sql = self._render(template, relative_path, context)
        return result

    def render_expression(self, text: str, namespace: Namespace, path: str, line: int | None) -> Rendered:
        """Render a `{{ ... }}` string from YAML (a relationships test's `to:`)."""
        try:
            template = self._env.from_string("{{ " + text + " }}")
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"cannot read {text!r}: {exc.message}", path, line) from exc
        result = Rendered(sql="")
        context = self._context(template, path, namespace, result, fixed_line=line)
        result.sql = self._render(template, path, context, fixed_line=line)
        return result

    def _render(
        self, template: jinja2.Template, path: str, context: dict[str, Any], fixed_line: int | None = None
    ) -> str:
        try:
            return template.render(context)
        except SqlProjectError:
            raise
        except Exception as exc:
            line = fixed_line or _traceback_line(exc, template.filename)
            raise TemplateError(f"Jinja error: {exc}", path, line) from exc

    def _context(
        self,
        template: jinja2.Template,
        path: str,
        namespace: Namespace,
        result: Rendered,
        fixed_line: int | None = None,
    ) -> dict[str, Any]:
        def line() -> int | None:
            return fixed_line or _caller_line(template)

        def ref(*args: str, **kwargs: Any) -> Relation:
            if kwargs or not 1 <= len(args) <= 2 or not all(isinstance(a, str) for a in args):
                raise TemplateError("ref() takes a model name (or a project name and a model name)", path, line())
            if len(args) == 2 and args[0] != self._project_name:
                raise TemplateError(f"ref({args[0]!r}, ...): packages are not supported", path, line())
            name = args[-1]
            result.refs.append(Call(name, line()))
            relation = namespace.ref(name)
            if relation is None:
                raise UnknownRefError(
                    f"ref({name!r}) names no model or seed{_hint(name, namespace.ref_names())}", path, line()
                )
            return relation

        def source(source_name: str, table_name: str) -> Relation:
            key = f"{source_name}.{table_name}"
            result.sources.append(Call(key, line()))
            relation = namespace.source(source_name, table_name)
            if relation is None:
                raise UnknownSourceError(
                    f"source({source_name!r}, {table_name!r}) is not declared in any schema.yml"
                    + _hint(key, namespace.source_names()),
                    path,
                    line(),
                )
            return relation

        def config(*args: Any, **kwargs: Any) -> str:
            if args:
                raise TemplateError("config() takes keyword arguments, e.g. config(materialized='table')", path, line())
            result.config.update(kwargs)
            result.config_lines.update(dict.fromkeys(kwargs, line()))
            return ""

        def var(name: str, default: Any = _NO_DEFAULT) -> Any:
            if name in self._vars:
                return self._vars[name]
            if default is _NO_DEFAULT:
                raise TemplateError(f"var({name!r}) is not set under `vars:` in dbt_project.yml", path, line())
            return default

        return {"ref": ref, "source": source, "config": config, "var": var, "graph": self._graph}


def _caller_line(template: jinja2.Template) -> int | None:
    """The template line that is calling us: the nearest frame of the template's compiled code."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename == template.filename:
            return template.get_corresponding_lineno(frame.f_lineno)
        frame = frame.f_back
    return None


def _traceback_line(exc: BaseException, filename: str | None) -> int | None:
    """Jinja rewrites tracebacks so the template's frames carry template lines: take the last one."""
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    return lines[-1] if lines else None


def _hint(name: str, known: Collection[str]) -> str:
    close = get_close_matches(name, sorted(known), n=3)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
