"""BATON_ENV selects the environment; bad settings fail when the definitions load, naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from platform_defs.settings import ConfigurationError, load_settings


def load_definitions(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Import the code location in a fresh interpreter, as `dagster dev` does."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SNOWFLAKE_", "BATON_", "AWS_"))}
    return subprocess.run(
        [sys.executable, "-c", "import platform_defs.definitions"],
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
        "BATON_VENDOR_BASE_URL",
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


def test_aws_mode_uses_aws_endpoints_and_keeps_the_password_out_of_config() -> None:
    settings = load_settings(
        {
            "BATON_ENV": "aws",
            "BATON_LAKE_BUCKET": "acme-lake",
            "AWS_REGION": "eu-west-1",
            "SNOWFLAKE_ACCOUNT": "acme-xy123",
            "SNOWFLAKE_USER": "loader",
            "SNOWFLAKE_PASSWORD": "s3cret",
            "SNOWFLAKE_DATABASE": "MARKETS",
            "SNOWFLAKE_WAREHOUSE": "LOAD_WH",
            "BATON_CHAIN_ROLE_ARN": "arn:aws:iam::1:role/baton-chain",
            "BATON_VENDOR_BASE_URL": "https://vendor.example",
            "BATON_ALERT_SENDER": "baton@acme.example",
            "BATON_ALERT_RECIPIENTS": "data@acme.example, oncall@acme.example",
        }
    )
    assert settings.alerts.recipients == ("data@acme.example", "oncall@acme.example")
    assert settings.aws.endpoint_url is None and settings.aws.access_key_id is None
    assert settings.snowflake.password_env == "SNOWFLAKE_PASSWORD"
    assert "s3cret" not in repr(settings)
    assert settings.deployment == "prod"


def test_local_mode_without_a_stack_says_how_to_start_it(tmp_path: Path) -> None:
    result = load_definitions({"BATON_HOME": str(tmp_path)})
    assert result.returncode != 0
    assert "BATON_ENV=local: the local stack is not running: start it with `baton stack up`" in result.stderr
