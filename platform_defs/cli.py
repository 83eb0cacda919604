"""`baton`: the command line of the platform: the worker, the chains, datasets, secrets and the SQL models.

Other distributions add commands through the `baton.commands` entry point: the dev install's
local stack adds `stack`, `dev` and `demo`. A production install has none of them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbt_like_sql import PROJECT_DIR
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

    deploy = commands.add_parser(
        "deploy", help="update the chain function (--target function), or deploy the whole platform (--target aws)"
    )
    deploy.add_argument(
        "--target",
        choices=("function", "aws"),
        default="function",
        help="function: package lambda_workers and create or update the chain function (the default); "
        "aws: the CloudFormation stack baton-<deployment> of infra/template.yaml, image and worker zip included",
    )
    deploy.add_argument("--timeout", type=int, help="--target function: seconds per link (at most 900; default 900)")
    deploy.add_argument("--memory", type=int, help="--target function: MB per link (default 512)")
    stack = deploy.add_argument_group("--target aws")
    stack.add_argument("--deployment", help="the stack is baton-<deployment> (default: $BATON_DEPLOYMENT, else prod)")
    stack.add_argument("--parameters", metavar="FILE", help="YAML or JSON: template parameter -> value")
    stack.add_argument("--parameter", action="append", metavar="NAME=VALUE", help="a parameter, over the file's")
    stack.add_argument("--code-bucket", help="the CodeBucket parameter: where the worker zip and template go")
    stack.add_argument("--plan", action="store_true", default=None, help="print what would deploy; offline, no AWS")
    stack.add_argument("--no-image", action="store_true", default=None, help="no docker build: keep the ImageTag")
    stack.add_argument("--account", help="the AWS account of the image's URI (default: STS's; in --plan <account>)")
    deploy.set_defaults(run=_deploy)

    sql = commands.add_parser(
        "sql", help="the SQL models outside Dagster, like dbt: deps|seed|compile|run|test|build|snapshot"
    )
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

    source = commands.add_parser("source", help="declare a dataset: `source new` writes a commented declaration")
    source_actions = source.add_subparsers(required=True, metavar="ACTION")
    new = source_actions.add_parser("new", help="write catalogue/<name>.yaml for a source kind; it loads as it stands")
    new.add_argument("name", help="the dataset's name (lower case, digits, _)")
    new.add_argument("--kind", required=True, help="json_rest, xml_api, s3_feed or job_poll")
    new.add_argument("--vendor", help="the vendor's name (default: the dataset's)")
    new.set_defaults(run=_source_new)

    run = commands.add_parser("run", help="materialise a dataset's lineage (raw -> lake -> warehouse) now")
    run.add_argument("dataset")
    run.add_argument("--partition", help="the partition (default: the one its schedule would run now)")
    run.add_argument("--full-refresh", action="store_true", help="extract from scratch, not from the last cursor")
    run.add_argument("--mode", choices=("driven", "relay"), default="driven", help="how the chain runs")
    run.set_defaults(run=_run)

    secrets = commands.add_parser("secrets", help="vendor secrets, as the SSM SecureStrings the workers read")
    secret_actions = secrets.add_subparsers(required=True, metavar="ACTION")
    put = secret_actions.add_parser("set", help="store a vendor's secret, read from stdin or a prompt (never argv)")
    put.add_argument("vendor")
    put.set_defaults(run=_secrets_set)

    instance = commands.add_parser(
        "instance", help="write $DAGSTER_HOME/dagster.yaml: storage and run launcher from DAGSTER_PG_* and BATON_RUN_*"
    )
    instance.add_argument("--home", type=Path, help="the Dagster home (default: $DAGSTER_HOME)")
    instance.set_defaults(run=_instance)

    capacity = commands.add_parser(
        "capacity", help="how many chains AWS's default quotas allow at once, which binds first, and how to go 10x/100x"
    )
    capacity.add_argument(
        "--simulate", action="store_true", help="also check each bound on the simulation (below it and above it)"
    )
    capacity.set_defaults(run=_capacity)

    for plugin in entry_points(group=COMMANDS_ENTRY_POINT):
        plugin.load()(commands)
    return parser


def _deploy(args: argparse.Namespace) -> int:
    """`--target function` deploys to whichever endpoint BATON_ENV selects (the local stack or AWS).

    `--target aws` deploys the stack; a flag of the other target is refused rather than ignored.
    """
    flags = {
        "function": ("timeout", "memory"),
        "aws": ("deployment", "parameters", "parameter", "code_bucket", "plan", "no_image", "account"),
    }
    other = "function" if args.target == "aws" else "aws"
    if wrong := [f"--{flag.replace('_', '-')}" for flag in flags[other] if getattr(args, flag) is not None]:
        raise ConfigurationError(f"{', '.join(wrong)}: only with --target {other}")
    if args.target == "aws":
        import os

        from platform_defs import aws_stack

        options = aws_stack.StackOptions(
            deployment=args.deployment or os.environ.get("BATON_DEPLOYMENT", "prod"),
            parameters_file=Path(args.parameters) if args.parameters else None,
            parameters=tuple(args.parameter or ()),
            code_bucket=args.code_bucket,
            image=not args.no_image,
            account=args.account,
        )
        return aws_stack.plan_stack(options) if args.plan else aws_stack.deploy_stack(options)

    from platform_defs.chain_clients import lambda_client
    from platform_defs.deploy import deploy_chain_function
    from platform_defs.settings import load_settings

    settings = load_settings()
    result = deploy_chain_function(
        lambda_client(settings.aws),
        settings.chains.function_name,
        settings.chains.role_arn,
        timeout=900 if args.timeout is None else args.timeout,
        memory_mb=512 if args.memory is None else args.memory,
    )
    verb = "created" if result.created else "updated"
    print(f"{verb} {result.function_name} ({result.zip_bytes} bytes, sha256 {result.code_sha256})")
    return 0


def _instance(args: argparse.Namespace) -> int:
    """The instance config each container writes at start (infra/entrypoint.sh), from its own environment."""
    import os

    import yaml

    from platform_defs.instance_config import InstanceConfigError, write_dagster_home

    home = args.home or (Path(os.environ["DAGSTER_HOME"]) if os.environ.get("DAGSTER_HOME") else None)
    if home is None:
        print("baton: DAGSTER_HOME is not set and no --home was given: where should dagster.yaml go?", file=sys.stderr)
        return 1
    try:
        path = write_dagster_home(home) / "dagster.yaml"
    except InstanceConfigError as exc:
        print(f"baton: {exc}", file=sys.stderr)
        return 1
    written = yaml.safe_load(path.read_text())
    storage = "PostgreSQL" if "storage" in written else "SQLite"
    runs = "ECS tasks" if "run_launcher" in written else "subprocesses"
    print(f"wrote {path}: storage in {storage}, runs in {runs}")
    return 0


def _capacity(args: argparse.Namespace) -> int:
    from platform_defs.capacity import main as print_capacity

    print_capacity(simulated=args.simulate)
    return 0


def _sql(args: argparse.Namespace) -> int:
    """The SQL project's commands on the Snowflake the platform uses (`BATON_ENV` decides which)."""
    if args.command == "deps":
        return run_sql_command(args, None)  # packages are files: no settings or warehouse needed
    import dagster as dg

    from platform_defs.datasets import DATASETS
    from platform_defs.resources import build_resources
    from platform_defs.settings import load_settings
    from platform_defs.sql_sources import catalogue_sources, platform_target
    from platform_defs.warehouse import ensure_tables

    settings = load_settings()
    snowflake = build_resources(settings)["snowflake"]
    # Initialised as a run would initialise it: the local resource creates its database on first use.
    with dg.build_resources({"snowflake": snowflake}) as resources:

        @contextmanager
        def connect() -> Iterator[Any]:
            with resources.snowflake.get_connection() as connection:
                if args.command != "query":
                    ensure_tables(connection, DATASETS.values())  # a dataset not loaded yet reads as empty
                yield connection

        own = args.project_dir.resolve() == PROJECT_DIR
        sources = catalogue_sources(DATASETS) if own else []  # the catalogue's RAW tables are Baton's project's
        return run_sql_command(args, connect, sources, platform_target(settings))


def _source_new(args: argparse.Namespace) -> int:
    from platform_defs.datasets import catalogue_dir
    from platform_defs.declarations import DeclarationError
    from platform_defs.scaffold import ScaffoldError, write_declaration

    try:
        path = write_declaration(catalogue_dir(), args.name, args.kind, args.vendor)
    except (ScaffoldError, DeclarationError) as exc:
        print(f"baton: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}: edit it (docs/datasets.md has every field), then `baton run {args.name}`")
    return 0


def _run(args: argparse.Namespace) -> int:
    from lambda_workers.chain.status import ChainMode
    from platform_defs.dataset_run import RunError, run_dataset
    from platform_defs.definitions import defs

    try:
        run = run_dataset(defs, args.dataset, args.partition, args.full_refresh, ChainMode(args.mode))
    except RunError as exc:
        print(f"baton: {exc}", file=sys.stderr)
        return 1
    where = f" {run.partition}" if run.partition else ""
    if not run.success:
        print(f"baton: run {run.run_id} of {args.dataset}{where} failed: {run.failure}", file=sys.stderr)
        return 1
    loaded = ", ".join(f"{key} {rows:,}" for key, rows in run.rows.items()) or "nothing materialised"
    print(f"run {run.run_id} of {args.dataset}{where} succeeded: {loaded} rows")
    if args.mode == "relay":
        print("the relay chain runs on by itself: the relay_chains sensor materialises the lineage when it is done")
    return 0


def _secrets_set(args: argparse.Namespace) -> int:
    """The value from stdin when it is piped in, else from a prompt that does not echo: never from argv."""
    import getpass

    from platform_defs.chain_clients import aws_client
    from platform_defs.datasets import DATASETS, http_vendors
    from platform_defs.declarations import NAME
    from platform_defs.settings import aws_settings, vendor_secret_parameter_from_env

    if not NAME.match(args.vendor):
        print(f"baton: {args.vendor!r} is not a vendor name: it must match {NAME.pattern}", file=sys.stderr)
        return 1
    value = sys.stdin.read() if not sys.stdin.isatty() else getpass.getpass(f"secret for {args.vendor}: ")
    value = value.strip("\r\n")
    if not value:
        print(f"baton: no secret given for {args.vendor} (pipe it in, or type it at the prompt)", file=sys.stderr)
        return 1
    parameter = vendor_secret_parameter_from_env(args.vendor)
    aws_client(aws_settings(), "ssm").put_parameter(Name=parameter, Value=value, Type="SecureString", Overwrite=True)
    note = "" if args.vendor in http_vendors(DATASETS) else "; no declared dataset calls this vendor yet"
    print(f"stored the secret of {args.vendor} as the SecureString {parameter} ({len(value)} characters){note}")
    return 0


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
