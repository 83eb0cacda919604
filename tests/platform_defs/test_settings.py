"""BATON_ENV selects the environment; bad settings fail when the definitions load, naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lambda_workers.events import DEFAULT_CHECKPOINT_SECONDS, ChainAddress, parse_event
from local_stack.stack import VENDOR_SECRET_PARAMETER, LocalStack
from platform_defs.datasets import DATASETS, VendorEndpoint, http_vendors
from platform_defs.resources import build_resources
from platform_defs.settings import AwsSettings, ConfigurationError, load_settings, vendor_variable


def load_definitions(
    env: dict[str, str], code: str = "import platform_defs.definitions", *options: str
) -> subprocess.CompletedProcess[str]:
    """Import the code location in a fresh interpreter, as `dagster dev` and each run worker do; then run `code`."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SNOWFLAKE_", "BATON_", "AWS_"))}
    return subprocess.run(
        [sys.executable, *options, "-c", code],
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_unknown_env_lists_the_valid_values() -> None:
    with pytest.raises(ConfigurationError, match=r"BATON_ENV='staging' is not valid; use one of: local, aws"):
        load_settings({"BATON_ENV": "staging"})


def test_aws_mode_names_every_missing_variable_at_load_time() -> None:
    result = load_definitions({"BATON_ENV": "aws", "SNOWFLAKE_USER": "loader"})
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("platform_defs.settings.ConfigurationError: BATON_ENV=aws needs")
    for variable in (
        "BATON_LAKE_BUCKET",
        "BATON_CHAIN_ROLE_ARN",
        "BATON_VENDOR_MARKETS_BASE_URL",
        "BATON_ALERT_SENDER",
        "BATON_ALERT_RECIPIENTS",
        "SNOWFLAKE_ACCOUNT",
        "SNOWFLAKE_DATABASE",
        "SNOWFLAKE_WAREHOUSE",
        "AWS_REGION (or AWS_DEFAULT_REGION)",
        "SNOWFLAKE_PASSWORD (or SNOWFLAKE_PRIVATE_KEY_PATH)",
    ):
        assert variable in message
    assert "SNOWFLAKE_USER" not in message


AWS_ENV = {
    "BATON_ENV": "aws",
    "BATON_LAKE_BUCKET": "acme-lake",
    "AWS_REGION": "eu-west-1",
    "SNOWFLAKE_ACCOUNT": "acme-xy123",
    "SNOWFLAKE_USER": "loader",
    "SNOWFLAKE_PASSWORD": "s3cret",
    "SNOWFLAKE_DATABASE": "MARKETS",
    "SNOWFLAKE_WAREHOUSE": "LOAD_WH",
    "BATON_CHAIN_ROLE_ARN": "arn:aws:iam::1:role/baton-chain",
    "BATON_VENDOR_MARKETS_BASE_URL": "https://vendor.example",
    "BATON_ALERT_SENDER": "baton@acme.example",
    "BATON_ALERT_RECIPIENTS": "data@acme.example, oncall@acme.example",
    # every other vendor the catalogue calls (a team's own declarations included)
    **{
        vendor_variable(vendor, "BASE_URL"): f"https://{vendor}.example"
        for vendor in http_vendors(DATASETS)
        if vendor != "markets"
    },
}


def test_aws_mode_leaves_endpoints_to_boto3_and_keeps_the_password_out_of_config() -> None:
    settings = load_settings(AWS_ENV)
    assert settings.alerts.recipients == ("data@acme.example", "oncall@acme.example")
    assert settings.aws == AwsSettings(region="eu-west-1")
    assert settings.snowflake.password_env == "SNOWFLAKE_PASSWORD"
    assert settings.snowflake.connection_args == {}, "on Snowflake itself the account decides the host"
    assert "s3cret" not in repr(settings)
    assert settings.deployment == "prod"
    assert settings.chains.vendors["markets"].secret_parameter == "/baton/prod/secrets/markets"


def test_each_vendor_has_variables_named_after_it() -> None:
    settings = load_settings(
        {
            **AWS_ENV,
            "BATON_VENDOR_TRADE_DESK_BASE_URL": "https://trades.example/api/",
            "BATON_VENDOR_TRADE_DESK_SECRET_PARAMETER": "/acme/trades/token",
        },
        vendors=["markets", "trade-desk"],
    )
    assert settings.chains.vendors["trade-desk"] == VendorEndpoint("https://trades.example/api/", "/acme/trades/token")
    with pytest.raises(
        ConfigurationError, match=r"needs these environment variables: BATON_VENDOR_NOT_SET_UP_BASE_URL$"
    ):
        load_settings(AWS_ENV, vendors=["markets", "not_set_up"])
    with pytest.raises(ConfigurationError, match=r"BATON_VENDOR_MARKETS_BASE_URL='vendor.example' is not an http"):
        load_settings({**AWS_ENV, "BATON_VENDOR_MARKETS_BASE_URL": "vendor.example"})


def test_snowflake_host_port_and_protocol_come_from_the_connection_variables() -> None:
    settings = load_settings(
        {**AWS_ENV, "SNOWFLAKE_HOST": "sf.internal", "SNOWFLAKE_PORT": "8443", "SNOWFLAKE_PROTOCOL": "https"}
    )
    assert settings.snowflake.connection_args == {"host": "sf.internal", "port": 8443, "protocol": "https"}
    with pytest.raises(ConfigurationError, match=r"SNOWFLAKE_PORT='x' is not a port number"):
        load_settings({**AWS_ENV, "SNOWFLAKE_PORT": "x"})
    with pytest.raises(ConfigurationError, match=r"SNOWFLAKE_PROTOCOL='ftp' is not valid; use one of: https, http"):
        load_settings({**AWS_ENV, "SNOWFLAKE_PROTOCOL": "ftp"})


def test_local_and_aws_read_the_same_variables_and_differ_only_in_resources() -> None:
    local, aws = load_settings({**AWS_ENV, "BATON_ENV": "local"}), load_settings(AWS_ENV)
    assert local.env == "local" and aws.env == "aws"
    assert {**local.__dict__, "env": "aws"} == aws.__dict__


def test_local_mode_without_the_stacks_variables_says_how_to_get_them() -> None:
    result = load_definitions({"BATON_ENV": "local"})
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert "BATON_ENV=local needs these environment variables: BATON_LAKE_BUCKET" in message
    assert message.endswith('the local stack exports them all: eval "$(baton stack env)"')


def test_the_stacks_environment_is_all_the_platform_needs(local_stack: LocalStack) -> None:
    settings = load_settings(local_stack.environment())
    assert settings.env == "local" and settings.deployment == "local"
    assert settings.chains.vendors["markets"].base_url.startswith("http://127.0.0.1:")
    assert settings.snowflake.connection_args["protocol"] == "http"
    assert settings.chains.vendors["markets"].secret_parameter == VENDOR_SECRET_PARAMETER


def test_the_code_location_loads_on_aws_settings_alone_and_warns_of_nothing() -> None:
    """No stack, no emulator: the variables are all it takes, and no Beta/Preview/Supersession warning shows."""
    result = load_definitions(AWS_ENV, "import platform_defs.definitions as d; print(len(d.assets))", "-W", "always")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 0
    assert "Warning" not in result.stderr, result.stderr


def test_the_code_location_imports_neither_snowpark_nor_the_snowflake_python_api() -> None:
    """Each run worker imports the code location before its first step: unused libraries were half of that."""
    unused = ("dagster_snowflake", "snowflake.snowpark", "snowflake.core")
    result = load_definitions(
        AWS_ENV, f"import sys, platform_defs.definitions; print([m for m in {unused!r} if m in sys.modules])"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_checkpoint_interval_is_a_deployments_setting_every_chain_it_starts_carries() -> None:
    """Fewer commits a link is fewer Parameter Store writes: the first change for many more chains."""
    chains = build_resources(load_settings({**AWS_ENV, "BATON_CHECKPOINT_SECONDS": "300"}))["chains"]
    event = chains.start_event(DATASETS["prices"], ChainAddress("prices", "2025-05-05"), "lake")
    assert event.checkpoint_seconds == 300.0
    assert parse_event(event.continuation("c1", 2)).checkpoint_seconds == 300.0, "links hand it on"
    assert load_settings(AWS_ENV).chains.checkpoint_seconds == DEFAULT_CHECKPOINT_SECONDS
    for bad in ("0", "901", "often"):
        with pytest.raises(ConfigurationError, match=f"BATON_CHECKPOINT_SECONDS='{bad}' is not a number of seconds"):
            load_settings({**AWS_ENV, "BATON_CHECKPOINT_SECONDS": bad})
