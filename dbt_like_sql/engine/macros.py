"""The macros of a project and of its packages: found when the project loads, bound for each render.

dbt's namespace rules: a model calls its own project's macros by name and a package's as
`package.macro()`; inside a package, its own macros are called by name. Macros are bound to the
context of the render that calls them (so `ref()` in a macro records a dependency of the model
that called it), and a macro may call another defined in a file read after its own, since names
are looked up when a macro runs. `{{ return(x) }}` hands a value back, as in dbt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import jinja2
import jinja2.sandbox
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, MacroRef

from dbt_like_sql.engine.errors import ProjectConfigError, TemplateError

__all__ = ["MacroDefinition", "MacroLibrary", "MacroReturn", "TemplateEnvironment"]


class MacroReturn(Exception):
    """Raised by `return(value)`; the macro's wrapper catches it and returns the value."""

    def __init__(self, value: Any) -> None:
        self.value = value


class ReturningMacro(jinja2.runtime.Macro):
    """A macro from which `return(value)` hands back `value` to its own caller.

    Every macro a template defines is one, so a macro calling another of the same file (which
    Jinja binds directly, not through the context) still gets that macro's value, not its own.
    """

    def _invoke(self, arguments: list[Any], autoescape: bool) -> Any:
        try:
            return super()._invoke(arguments, autoescape)
        except MacroReturn as returned:
            return returned.value


class _ReturningCodeGenerator(CodeGenerator):
    def macro_def(self, macro_ref: MacroRef, frame: Frame) -> None:
        """Jinja's macro definition, building `environment.macro_class` instead of its own Macro."""
        arg_tuple = ", ".join(repr(x.name) for x in macro_ref.node.args)
        name = getattr(macro_ref.node, "name", None)
        if len(macro_ref.node.args) == 1:
            arg_tuple += ","
        self.write(
            f"environment.macro_class(environment, macro, {name!r}, ({arg_tuple}),"
            f" {macro_ref.accesses_kwargs!r}, {macro_ref.accesses_varargs!r},"
            f" {macro_ref.accesses_caller!r}, context.eval_ctx.autoescape)"
        )


class TemplateEnvironment(jinja2.sandbox.SandboxedEnvironment):
    """The sandboxed environment the project's files render in, with dbt's `return()` for macros."""

    code_generator_class = _ReturningCodeGenerator
    macro_class = ReturningMacro


@dataclass(frozen=True)
class MacroDefinition:
    name: str
    package: str
    path: str  # the file, relative to the root project
    line: int
    arguments: tuple[str, ...]
    required: tuple[str, ...]  # the arguments without a default

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}"


class MacroLibrary:
    """Every macro of the root project and of each installed package, by package then name."""

    def __init__(self, env: jinja2.Environment, root: str, files: Mapping[str, Sequence[str]]) -> None:
        self._env = env
        self.root = root
        self._files = {package: tuple(paths) for package, paths in files.items()}
        self.definitions: dict[str, dict[str, MacroDefinition]] = {}
        for package, paths in self._files.items():
            defined: dict[str, MacroDefinition] = {}
            for path in paths:
                for macro in _macros_in(env, path, package):
                    if macro.name in defined:
                        raise ProjectConfigError(
                            f"macro {macro.name!r} is defined twice in {package!r}: here and at "
                            f"{defined[macro.name].location}",
                            macro.path,
                            macro.line,
                        )
                    defined[macro.name] = macro
            self.definitions[package] = defined

    def find(self, name: str) -> MacroDefinition | None:
        """`name` or `package.name`, as a template would call it from the root project."""
        package, _, bare = name.rpartition(".")
        return self.definitions.get(package or self.root, {}).get(bare)

    def bind(self, context: dict[str, Any]) -> dict[str, Any]:
        """The names a root-project template sees: its macros, and each package as a namespace.

        `context` holds the render's own functions (ref, source, this, ...); each package's
        macros run in a copy of it with that package's macros added.
        """
        scopes: dict[str, dict[str, Any]] = {}
        bound: dict[str, dict[str, Callable[..., Any]]] = {}
        for package, paths in self._files.items():
            scope = scopes[package] = dict(context)
            macros = bound[package] = {}
            for path in paths:
                module = self._env.get_template(path).make_module(vars=scope, shared=True)
                for name, definition in self.definitions[package].items():
                    if definition.path == path:
                        macros[name] = getattr(module, name)
        namespaces = {package: SimpleNamespace(**macros) for package, macros in bound.items()}
        for package, scope in scopes.items():
            scope.update(namespaces)  # a package calls another as `other.macro()`, as in dbt
            scope.update(bound[package])  # and its own macros by name
        return {**namespaces, **bound.get(self.root, {})}


def _macros_in(env: jinja2.Environment, path: str, package: str) -> list[MacroDefinition]:
    assert env.loader is not None
    source, filename, _ = env.loader.get_source(env, path)
    try:
        tree = env.parse(source, path, filename)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"Jinja syntax error: {exc.message}", path, exc.lineno) from exc
    return [
        MacroDefinition(
            name=node.name,
            package=package,
            path=path,
            line=node.lineno,
            arguments=tuple(argument.name for argument in node.args),
            required=tuple(argument.name for argument in node.args[: len(node.args) - len(node.defaults)]),
        )
        for node in tree.body
        if isinstance(node, nodes.Macro)
    ]
