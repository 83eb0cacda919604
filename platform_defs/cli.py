"""`baton`: the command line of the platform (deploying the worker, the chains, the SQL models).

Other distributions add commands through the `baton.commands` entry point: the dev install's
local stack adds `stack`, `dev` and `demo`. A production install has none of them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from dbt_like_sql.cli import add_arguments as add_sql_arguments
from dbt_like_sql.cli import run_command as run_sql_command
from platform_defs.settings import ConfigurationError

if TYPE_CHECKING:
    from platform_defs.resources.chains import ChainResource

__all__ = ["COMMANDS_ENTRY_POINT", "main"]

COMMANDS_ENTRY_POINT = "baton.commands"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except ConfigurationError as exc:
        print(f"baton: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="baton", description="Baton: relay-chain extraction into S3 and Snowflake.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    deploy = commands.add_parser("deploy", help="package lambda_workers and create or update the chain function")
    deploy.add_argument("--timeout", type=int, default=900, help="seconds per link (at most 900)")
    deploy.add_argument("--memory", type=int, default=512, help="MB per link")
    deploy.set_defaults(run=_deploy)

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

    for plugin in entry_points(group=COMMANDS_ENTRY_POINT):
        plugin.load()(commands)
    return parser


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


def _no_such_dataset(asset: str) -> str:
    """What to add when a command finds no chain of `asset`: whether it is a dataset at all ("" if it is)."""
    from platform_defs.datasets import DATASETS

    if asset in DATASETS:
        return ""
    return f"; and there is no dataset {asset!r} (the datasets are {', '.join(sorted(DATASETS))})"


def _chains_list(args: argparse.Namespace) -> int:
    """A table of the chains, newest update first: what a data engineer checks before halting one.

    Asked for one asset with no chain, it says whether that asset is a dataset at all, so a typo
    does not read as an empty table.
    """
    records = sorted(
        ((chain, record) for chain, record in _chain_resource().records() if args.asset in (None, chain.asset)),
        key=lambda item: item[1].updated_at,
        reverse=True,
    )
    if not records and args.asset is not None and (unknown := _no_such_dataset(args.asset)):
        print(f"baton: no chain of {args.asset!r}{unknown}", file=sys.stderr)
        return 2
    print(f"{'chain':<44}{'status':<9}{'mode':<8}{'links':>6}{'rows':>12}{'progress':>10}  updated")
    for chain, record in records:
        progress = f"{100 * record.rows / record.total:.0f}%" if record.total else "-"
        mode = record.mode or "-"
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
        unknown = _no_such_dataset(args.asset)
        print(f"baton: no chain {chain.path()} in deployment {resource.deployment}{unknown}", file=sys.stderr)
        return 1
    resource.halt(chain)
    print(f"halt flag set for {chain.path()} ({record.status} at link {record.link}); its next link stops")
    return 0


def _chain_resource() -> ChainResource:
    from platform_defs.resources import build_resources
    from platform_defs.settings import load_settings

    return build_resources(load_settings())["chains"]


if __name__ == "__main__":
    sys.exit(main())
