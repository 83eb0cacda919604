"""The development commands of `baton`: the local stack, the Dagster UI on it, and the demo.

They come with this distribution (`baton-local-stack`, the dev install), not with the platform:
the `baton.commands` entry point adds them to the platform's `baton` command. This is the one
module of the local stack that drives the platform, and it hands it the stack only the way a
user's shell would: by exporting the stack's environment (`baton stack env`).
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local_stack.home import PROJECT_ROOT, stack_home
from local_stack.services import SERVICES
from local_stack.stack import LocalStack, StackError

__all__ = ["add_commands"]

Command = Callable[[argparse.Namespace], int]


def add_commands(commands: Any) -> None:
    """Add `stack`, `dev` and `demo` to the `baton` parser's subcommands."""
    stack = commands.add_parser("stack", help="the embedded local stack on 127.0.0.1")
    actions = stack.add_subparsers(required=True, metavar="ACTION")
    up = actions.add_parser("up", help="start every service not yet running (idempotent)")
    _add_port_options(up)
    up.add_argument(
        "--with-postgres",
        action="store_true",
        help="also PostgreSQL on 127.0.0.1 (port $BATON_POSTGRES_PORT or 5433) as Dagster's storage; SQLite otherwise",
    )
    up.set_defaults(run=_reporting(_stack_up))
    actions.add_parser("down", help="stop exactly the processes `up` started").set_defaults(run=_reporting(_stack_down))
    status = actions.add_parser("status", help="each service's health; exit 1 unless all are healthy")
    status.set_defaults(run=_reporting(_stack_status))
    env = actions.add_parser("env", help='the platform\'s variables for this stack: eval "$(baton stack env)"')
    env.set_defaults(run=_reporting(_stack_env))

    demo = commands.add_parser("demo", help="the main job on the local stack, end to end")
    _add_port_options(demo)
    demo.set_defaults(run=_reporting(_demo))

    dev = commands.add_parser("dev", help="the local stack plus the Dagster UI")
    dev.add_argument("--ui-port", type=int, default=3000)
    _add_port_options(dev)
    dev.set_defaults(run=_reporting(_dev))


def _reporting(command: Command) -> Command:
    """A stack that will not start or is not running is one line on stderr and exit 1, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except StackError as exc:
            print(f"baton: {exc}", file=sys.stderr)
            return 1

    return run


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
    stack.up(with_postgres=args.with_postgres)
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


def _up_and_export(args: argparse.Namespace) -> LocalStack:
    """Start the stack and export its environment (its Dagster home included) into this process, as a shell would."""
    stack = _stack(args)
    stack.up()
    _print_status(stack)
    os.environ.update(stack.environment())
    return stack


def _demo(args: argparse.Namespace) -> int:
    """Start the stack, check every connection, then run what the platform has, end to end."""
    _up_and_export(args)
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


def _dev(args: argparse.Namespace) -> int:
    """Start the stack, then replace this process with `dagster dev` on the same stack."""
    _up_and_export(args)
    # Started from a non-interactive shell, `dagster dev` inherits an ignored SIGINT and then
    # ignores SIGTERM too; with the defaults restored, a plain SIGTERM shuts it down cleanly.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    dagster = str(Path(sys.executable).with_name("dagster"))
    workspace = str(PROJECT_ROOT / "workspace.yaml")
    command = [dagster, "dev", "-w", workspace, "-h", "127.0.0.1", "-p", str(args.ui_port)]
    print(f"Dagster UI: http://127.0.0.1:{args.ui_port}", flush=True)
    os.chdir(PROJECT_ROOT)
    os.execve(dagster, command, dict(os.environ))
