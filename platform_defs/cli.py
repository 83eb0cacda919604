"""`baton`: the command line of the platform (the local stack, the Dagster UI, the main job, the SQL models)."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dbt_like_sql.cli import add_arguments as add_sql_arguments
from dbt_like_sql.cli import run_command as run_sql_command
from local_stack.home import PROJECT_ROOT, stack_home
from local_stack.services import SERVICES
from local_stack.stack import LocalStack, StackError
from platform_defs.instance_config import write_dagster_home
from platform_defs.settings import ConfigurationError

if TYPE_CHECKING:
    from platform_defs.resources.chains import ChainResource

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except (StackError, ConfigurationError) as exc:
        print(f"baton: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="baton", description="Baton: relay-chain extraction into S3 and Snowflake.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    stack = commands.add_parser("stack", help="the embedded local stack on 127.0.0.1")
    actions = stack.add_subparsers(required=True, metavar="ACTION")
    up = actions.add_parser("up", help="start every service not yet running (idempotent)")
    _add_port_options(up)
    up.set_defaults(run=_stack_up)
    actions.add_parser("down", help="stop exactly the processes `up` started").set_defaults(run=_stack_down)
    actions.add_parser("status", help="each service's health; exit 1 unless all are healthy").set_defaults(
        run=_stack_status
    )
    actions.add_parser("env", help='endpoints for a shell: eval "$(baton stack env)"').set_defaults(run=_stack_env)

    deploy = commands.add_parser("deploy", help="package lambda_workers and create or update the chain function")
    deploy.add_argument("--timeout", type=int, default=900, help="seconds per link (at most 900)")
    deploy.add_argument("--memory", type=int, default=512, help="MB per link")
    deploy.set_defaults(run=_deploy)

    demo = commands.add_parser("demo", help="the main job on the local stack, end to end")
    _add_port_options(demo)
    demo.set_defaults(run=_demo)

    sql = commands.add_parser("sql", help="the SQL models outside Dagster, like dbt: seed|compile|run|test|build")
    add_sql_arguments(sql)
    sql.set_defaults(run=_sql)

    chains = commands.add_parser("chains", help="where the relay chains stand (their SSM cursor records); halt one")
    chain_actions = chains.add_subparsers(required=True, metavar="ACTION")
    listing = chain_actions.add_parser("list", help="every chain of this deployment: status, links, rows, progress")
    listing.add_argument("--asset", help="only this dataset's chains")
    listing.set_defaults(run=_chains_list)
    halt = chain_actions.add_parser("halt", help="flag a chain to stop: its next link records the halt and stops")
    halt.add_argument("asset")
    halt.add_argument("partition")
    halt.add_argument("shard", nargs="?")
    halt.set_defaults(run=_chains_halt)

    dev = commands.add_parser("dev", help="the local stack plus the Dagster UI")
    dev.add_argument("--ui-port", type=int, default=3000)
    _add_port_options(dev)
    dev.set_defaults(run=_dev)
    return parser


def _add_port_options(parser: argparse.ArgumentParser) -> None:
    for spec in SERVICES:
        parser.add_argument(
            f"--{spec.name}-port",
            type=int,
            dest=f"port_{spec.name}",
            help=f"{spec.description} (default ${spec.port_variable} or {spec.default_port}; 0 = any free port)",
        )


def _stack(args: argparse.Namespace) -> LocalStack:
    ports = {spec.name: getattr(args, f"port_{spec.name}") for spec in SERVICES}
    return LocalStack(stack_home(), ports={k: v for k, v in ports.items() if v is not None})


def _stack_up(args: argparse.Namespace) -> int:
    stack = _stack(args)
    stack.up()
    return _print_status(stack)


def _stack_down(args: argparse.Namespace) -> int:
    stopped = LocalStack(stack_home()).down()
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def _stack_status(args: argparse.Namespace) -> int:
    return _print_status(LocalStack(stack_home()))


def _stack_env(args: argparse.Namespace) -> int:
    for key, value in LocalStack(stack_home()).environment().items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def _print_status(stack: LocalStack) -> int:
    statuses = stack.status()
    print(f"{'service':<11}{'state':<11}{'pid':<9}url")
    for status in statuses:
        print(f"{status.name:<11}{status.state:<11}{status.pid or '-'!s:<9}{status.url or '-'}")
    print(f"state: {stack.home}")
    return 0 if all(s.state == "healthy" for s in statuses) else 1


def _demo(args: argparse.Namespace) -> int:
    """Start the stack, check every connection, then run what the platform has, end to end."""
    stack = _stack(args)
    stack.up()
    _print_status(stack)
    os.environ.update(stack.environment())
    os.environ["DAGSTER_HOME"] = str(_dagster_home(stack.home))
    from platform_defs.definitions import defs, settings
    from platform_defs.demo import run_demo
    from platform_defs.smoke import check_connections

    results = check_connections(defs.resources or {})
    for result in results:
        mark = "ok  " if result.ok else "FAIL"
        print(f"{mark} {result.name:<24}{result.seconds * 1000:7.0f} ms  {result.detail}")
    if not all(result.ok for result in results):
        return 1
    return run_demo(defs, settings)


def _deploy(args: argparse.Namespace) -> int:
    """Deploy to whichever endpoint BATON_ENV selects: the local stack or AWS."""
    from platform_defs.chain_clients import lambda_client
    from platform_defs.deploy import deploy_chain_function
    from platform_defs.settings import load_settings

    settings = load_settings()
    result = deploy_chain_function(
        lambda_client(settings.aws),
        settings.chains.function_name,
        settings.chains.role_arn,
        timeout=args.timeout,
        memory_mb=args.memory,
    )
    verb = "created" if result.created else "updated"
    print(f"{verb} {result.function_name} ({result.zip_bytes} bytes, sha256 {result.code_sha256})")
    return 0


def _sql(args: argparse.Namespace) -> int:
    """The SQL project's commands on the Snowflake the platform uses (`BATON_ENV` decides which)."""
    import dagster as dg

    from platform_defs.resources import build_resources
    from platform_defs.settings import load_settings

    snowflake = build_resources(load_settings())["snowflake"]
    # Initialised as a run would initialise it: the local resource creates its database on first use.
    with dg.build_resources({"snowflake": snowflake}) as resources:
        return run_sql_command(args, resources.snowflake.get_connection)


def _chains_list(args: argparse.Namespace) -> int:
    """A table of the chains, newest update first: what a data engineer checks before halting one."""
    records = sorted(
        ((chain, record) for chain, record in _chain_resource().records() if args.asset in (None, chain.asset)),
        key=lambda item: item[1].updated_at,
        reverse=True,
    )
    print(f"{'chain':<44}{'status':<9}{'mode':<8}{'links':>6}{'rows':>12}{'progress':>10}  updated")
    for chain, record in records:
        progress = f"{100 * record.rows / record.total:.0f}%" if record.total else "-"
        mode = record.extra.get("mode", "-")
        print(
            f"{chain.path():<44}{record.status:<9}{mode:<8}{record.link:>6}{record.rows:>12,}{progress:>10}  "
            f"{record.updated_at[:19]}"
        )
    return 0


def _chains_halt(args: argparse.Namespace) -> int:
    from lambda_workers.events import ChainAddress

    chain = ChainAddress(args.asset, args.partition, args.shard)
    resource = _chain_resource()
    record, _ = resource.store().load(resource.deployment, chain)
    if record is None:
        print(f"baton: no chain {chain.path()} in deployment {resource.deployment}", file=sys.stderr)
        return 1
    resource.halt(chain)
    print(f"halt flag set for {chain.path()} ({record.status} at link {record.link}); its next link stops")
    return 0


def _chain_resource() -> ChainResource:
    from platform_defs.resources import build_resources
    from platform_defs.settings import load_settings

    return build_resources(load_settings())["chains"]


def _dev(args: argparse.Namespace) -> int:
    """Start the stack, then replace this process with `dagster dev` on the same stack."""
    stack = _stack(args)
    stack.up()
    _print_status(stack)
    dagster_home = _dagster_home(stack.home)
    env = {**os.environ, **stack.environment(), "DAGSTER_HOME": str(dagster_home)}
    # Started from a non-interactive shell, `dagster dev` inherits an ignored SIGINT and then
    # ignores SIGTERM too; with the defaults restored, a plain SIGTERM shuts it down cleanly.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    dagster = str(Path(sys.executable).with_name("dagster"))
    workspace = str(PROJECT_ROOT / "workspace.yaml")
    command = [dagster, "dev", "-w", workspace, "-h", "127.0.0.1", "-p", str(args.ui_port)]
    print(f"Dagster UI: http://127.0.0.1:{args.ui_port}", flush=True)
    os.chdir(PROJECT_ROOT)
    os.execve(dagster, command, env)


def _dagster_home(home: Path) -> Path:
    """A DAGSTER_HOME inside the stack home."""
    return write_dagster_home(home / "dagster")


if __name__ == "__main__":
    sys.exit(main())
