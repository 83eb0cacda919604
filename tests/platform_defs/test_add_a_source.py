"""The README's "Add a source", run as written: a new vendor is one file and one secret, and no Python.

The commands are read out of the README and run by bash against the session's local stack and a
trades API on loopback (another vendor's auth, pagination, epoch times, 500s and 429s), with the
catalogue in a temporary copy so the repository is not touched.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from local_stack.services import SERVICES
from local_stack.stack import LocalStack
from platform_defs.datasets import CATALOGUE_DIR
from platform_defs.declarations import read_declaration
from platform_defs.settings import vendor_secret_parameter
from tests.trades_api import running_trades_api, trades_of

README = Path(__file__).resolve().parents[2] / "README.md"
TRADES = 1200


def walkthrough() -> tuple[str, str, str]:
    """The section's three code blocks: the shell before the edit, the edited file, the shell after it."""
    section = README.read_text().split("\n## Add a source\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(sh|yaml)\n(.*?)```", section, flags=re.DOTALL)
    assert [kind for kind, _ in blocks] == ["sh", "yaml", "sh"], "the walkthrough's shape changed: update this test"
    return blocks[0][1], blocks[1][1], blocks[2][1]


def bash(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture
def shell_env(local_stack: LocalStack, tmp_path: Path) -> dict[str, str]:
    catalogue = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, catalogue, ignore=shutil.ignore_patterns("trades.yaml"))  # the walkthrough's own
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "BATON_CATALOGUE_DIR": str(catalogue), "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def test_the_readme_walkthrough_lands_every_trade_in_snowflake(
    shell_env: dict[str, str], local_stack: LocalStack
) -> None:
    before, declaration, after = walkthrough()
    catalogue = Path(shell_env["BATON_CATALOGUE_DIR"])

    scaffolded = bash(before, shell_env)
    assert scaffolded.returncode == 0, scaffolded.stderr
    assert read_declaration(catalogue / "trades.yaml").source["kind"] == "json_rest", "the scaffold loads as it is"

    (catalogue / "trades.yaml").write_text(declaration)
    token = "tr-" + os.urandom(6).hex()
    with running_trades_api(token, trades=TRADES) as api:
        env = {**shell_env, "TRADES_API": api.url, "TRADES_TOKEN": token}
        setup = "".join(line + "\n" for line in before.splitlines() if line.startswith("eval "))
        ran = bash(setup + after, env)  # the same shell as before the edit: the stack's settings exported
        assert ran.returncode == 0, ran.stdout + ran.stderr
    assert any(path.startswith("/trades") for _, path in api.requests)

    assert re.search(r"run \S+ of trades 2025-06-02 succeeded: .*warehouse/raw/trades 1,200 rows", ran.stdout), (
        ran.stdout
    )
    symbols = len({trade["symbol"] for trade in trades_of("2025-06-02", TRADES)})
    assert re.search(rf"^{TRADES}\s+\|\s+{symbols}\s*$", ran.stdout, flags=re.MULTILINE), ran.stdout
    assert token not in ran.stdout + ran.stderr, "the token is never printed"
    parameter = vendor_secret_parameter(os.environ["BATON_DEPLOYMENT"], "trades")
    stored = ssm_of(local_stack).get_parameter(Name=parameter, WithDecryption=True)["Parameter"]
    assert (stored["Type"], stored["Value"]) == ("SecureString", token)


def test_a_secret_set_from_stdin_survives_the_stack_going_down_and_up(tmp_path: Path) -> None:
    """A stack of its own: the session's keeps running."""
    stack = LocalStack(tmp_path / "home", ports={spec.name: 0 for spec in SERVICES})
    try:
        stack.up()
        env = {**os.environ, **stack.environment(), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        stored = subprocess.run(
            ["baton", "secrets", "set", "trades"], input="s3cret-value\n", env=env, capture_output=True, text=True
        )
        assert stored.returncode == 0, stored.stderr
        assert "s3cret-value" not in stored.stdout + stored.stderr
        parameter = vendor_secret_parameter("local", "trades")
        assert f"as the SecureString {parameter} (12 characters)" in stored.stdout
        stack.down()
        stack.up()
        ssm = ssm_of(stack)
        value = ssm.get_parameter(Name=parameter, WithDecryption=True)["Parameter"]
        assert (value["Value"], value["Type"]) == ("s3cret-value", "SecureString")
        assert oct((stack.home / "secrets.json").stat().st_mode & 0o777) == "0o600"
    finally:
        stack.down()


def ssm_of(stack: LocalStack) -> Any:
    env = stack.environment()
    return boto3.client(
        "ssm",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("baton source new Trades --kind json_rest", "'Trades' is not a dataset name: it must match"),
        ("baton source new trades --kind graphql", "--kind 'graphql' is not a source kind; the kinds are: json_rest"),
        ("baton source new prices --kind json_rest", "prices.yaml exists: edit it, or choose another name"),
        ("baton run nosuch", "there is no dataset 'nosuch'; the datasets are: corporate_actions, fx_rates"),
        ("baton run prices --partition 2025-06-07", "'2025-06-07' is not a partition of prices (weekday partitions)"),
        ("baton run instruments --partition 2025-06-02", "instruments is not partitioned (snapshot): drop --partition"),
        (
            'baton sql query "delete from RAW.PRICES"',
            "query: a query must be exactly one SELECT (or WITH ... SELECT) statement",
        ),
        ("baton sql query", "query needs the SQL to run"),
        ("baton secrets set 'a b' < /dev/null", "'a b' is not a vendor name"),
        ("baton secrets set trades < /dev/null", "no secret given for trades"),
    ],
)
def test_the_commands_refuse_bad_input_by_name(shell_env: dict[str, str], command: str, expected: str) -> None:
    result = bash(command, shell_env)
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr


def test_a_run_of_a_vendor_without_a_base_url_names_the_variable(shell_env: dict[str, str]) -> None:
    _, declaration, _ = walkthrough()
    (Path(shell_env["BATON_CATALOGUE_DIR"]) / "trades.yaml").write_text(declaration)
    result = bash("baton run trades --partition 2025-06-02", shell_env)
    assert result.returncode == 1
    assert "trades calls the vendor trades, whose base URL BATON_VENDOR_TRADES_BASE_URL is not set" in result.stderr
