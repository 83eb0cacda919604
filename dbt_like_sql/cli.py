"""The SQL project's command line, like dbt's: seed | compile | run | test | build, and query.

`--select` takes dbt's selectors (`model`, `+model`, `model+`, several separated by spaces for
their union) and `--full-refresh` rebuilds incremental models whole. The connection comes from
the project's profile in profiles.yml (`--profiles-dir`, `--target`) when there is one;
otherwise the caller hands in `connect`, a function returning a context manager that yields a
DB-API connection (`baton sql ...` passes the platform's Snowflake resource). Without either,
only `compile` works, rendering models as their first build would. `query "<select>"`
prints the rows of one read-only SELECT, so a table can be checked without connector code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from dbt_like_sql import PROJECT_DIR
from dbt_like_sql.engine import (
    COMMANDS,
    SnowflakeAdapter,
    SourceDeclaration,
    SqlProjectError,
    StepOutcome,
    WarehouseError,
    compile_test,
    load_project,
    run_project,
    select,
)
from dbt_like_sql.engine.packages import install_packages
from dbt_like_sql.engine.project import Project
from dbt_like_sql.engine.project_file import load_project_file
from dbt_like_sql.engine.sql_check import parse_select
from dbt_like_sql.engine.target import Target

__all__ = ["add_arguments", "main", "run_command"]

Connect = Callable[[], AbstractContextManager[Any]]


def main(argv: Sequence[str] | None = None, connect: Connect | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dbt_like_sql", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run_command(parser.parse_args(argv), connect)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments, shared with `baton sql`."""
    parser.add_argument(
        "command", choices=("deps", "compile", *COMMANDS, "query"), help="what to do, as the dbt command of that name"
    )
    parser.add_argument("sql", nargs="?", help='query: one SELECT statement, e.g. "select count(*) from RAW.PRICES"')
    parser.add_argument("--limit", type=int, default=50, help="query: rows to print at most (default 50)")
    parser.add_argument(
        "--select",
        "-s",
        nargs="+",
        metavar="SELECTOR",
        help="nodes to include: name, +name (and ancestors), name+ (and descendants); default all",
    )
    parser.add_argument("--full-refresh", action="store_true", help="rebuild incremental models from scratch")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR, help="folder holding dbt_project.yml")
    parser.add_argument("--profiles-dir", type=Path, help="folder holding profiles.yml (default: as dbt looks for it)")
    parser.add_argument("--target", "-t", help="the profile's output to use (default: the profile's `target:`)")


def run_command(
    args: argparse.Namespace,
    connect: Connect | None,
    sources: Sequence[SourceDeclaration] = (),
    target: Target | None = None,
) -> int:
    """Run a parsed command; 0 when every step succeeded (warnings allowed), 1 otherwise.

    `sources`: source tables declared outside the project (`baton sql` passes the catalogue's);
    `target`: where to build when no profile names one (`baton sql` passes the platform's).
    """
    if args.command == "query":
        return _query(args, connect)
    if args.command == "deps":
        return _deps(args.project_dir)
    if args.sql is not None:
        print(f"error: {args.command} takes no SQL argument (only query does)", file=sys.stderr)
        return 1
    try:
        project = load_project(args.project_dir, sources, target, args.target, args.profiles_dir)
        if project.target.path is not None:
            connect = _profile_connection(project.target)
            used = project.target
            print(f"Using target {used.name!r} of profile {used.profile_name!r} ({used.path})")
        selected = select(project.graph, args.select)
        print(
            f"Found {len(project.models)} models, {len(project.seeds)} seeds, {len(project.tests)} data tests, "
            f"{len(project.sources)} sources; {len(selected)} nodes selected"
        )
        if args.command == "compile" and connect is None:
            return _compile(project, selected, None)
        if connect is None:
            print(f"{args.command} needs a warehouse connection: run it as `baton sql {args.command}`", file=sys.stderr)
            return 1
        with connect() as connection:
            adapter = SnowflakeAdapter(connection)
            if args.command == "compile":
                return _compile(project, selected, adapter)
            return _summary(run_project(adapter, project, args.command, selected, args.full_refresh, _print_outcome))
    except (SqlProjectError, WarehouseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _deps(project_dir: Path) -> int:
    """Install the local packages packages.yml lists; a Hub or git package is an error naming it."""
    try:
        project_file = load_project_file(project_dir.resolve())
        installed = install_packages(project_dir.resolve(), project_file.packages_install_path)
    except SqlProjectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name, source in installed:
        print(f"Installed {name} from {source} into {project_file.packages_install_path}/{name}")
    print(f"{len(installed)} package(s) installed")
    return 0


def _profile_connection(target: Target) -> Connect:
    """Connect as the profile's output says, with the Snowflake connector."""

    @contextmanager
    def connect() -> Iterator[Any]:
        import snowflake.connector

        connection = snowflake.connector.connect(**target.connection)
        try:
            yield connection
        finally:
            connection.close()

    return connect


def _query(args: argparse.Namespace, connect: Connect | None) -> int:
    """Print the rows of one SELECT as a table; a statement that is not a SELECT is refused before it runs."""
    if not args.sql:
        print(
            'error: query needs the SQL to run, e.g. baton sql query "select count(*) from RAW.PRICES"', file=sys.stderr
        )
        return 1
    if connect is None:
        print("query needs a warehouse connection: run it as `baton sql query`", file=sys.stderr)
        return 1
    try:
        parse_select(args.sql, "query")
        with connect() as connection:
            columns, rows = SnowflakeAdapter(connection).execute(args.sql)
    except (SqlProjectError, WarehouseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    shown = [[_cell(value) for value in row] for row in rows[: args.limit]]
    widths = [max([len(name), *(len(row[i]) for row in shown)]) for i, name in enumerate(columns)]
    print(" | ".join(name.ljust(width) for name, width in zip(columns, widths, strict=True)))
    print("-+-".join("-" * width for width in widths))
    for row in shown:
        print(" | ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)))
    more = f", {args.limit} shown" if len(rows) > args.limit else ""
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''}{more})")
    return 0


def _cell(value: Any) -> str:
    return "NULL" if value is None else str(value)


def _compile(project: Project, selected: set[str], adapter: SnowflakeAdapter | None) -> int:
    """Print each selected model's SQL as `run` would execute it now, then its tests' queries."""
    for name in project.order(selected):
        if name not in project.models:
            continue
        model = project.models[name]
        incremental = False
        if adapter is not None and model.config.materialized == "incremental":
            incremental = adapter.relation_kind(model.relation) == "table"
        print(f"\n-- {model.relative_path} ({model.config.materialized}) -> {model.relation.display}")
        print(project.compile(name, is_incremental=incremental))
        for test in project.tests_for(name):
            print(f"\n-- {test.location}: {test.name}")
            print(compile_test(project, test))
    return 0


def _print_outcome(outcome: StepOutcome, index: int, total: int) -> None:
    status = {"success": "OK", "pass": "PASS", "fail": "FAIL", "warn": "WARN", "error": "ERROR", "skipped": "SKIP"}
    print(f"{index:>3} of {total} {status[outcome.status]:<5} {outcome.kind:<5} {outcome.message}", flush=True)


def _summary(outcomes: list[StepOutcome]) -> int:
    counts = {status: sum(1 for o in outcomes if o.status == status) for status in ("error", "fail", "warn", "skipped")}
    passed = len(outcomes) - sum(counts.values())
    print(
        f"\nDone. OK={passed} WARN={counts['warn']} FAIL={counts['fail']} ERROR={counts['error']} "
        f"SKIP={counts['skipped']} TOTAL={len(outcomes)}"
    )
    return 1 if counts["error"] or counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
