"""The one place that decides Baton's environment: `BATON_ENV` is `local` (default) or `aws`.

Everything environment-specific is resolved here, when the definitions load, so that a wrong
or missing setting fails the code location at once with a message naming the variable, not a
run halfway through. Asset code never asks which environment it is in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

from local_stack.home import stack_home
from local_stack.stack import VENDOR_SECRET_PARAMETER, LocalStack, StackError

__all__ = [
    "VALID_ENVS",
    "AlertSettings",
    "AwsSettings",
    "ChainSettings",
    "ConfigurationError",
    "Settings",
    "SnowflakeSettings",
    "load_settings",
]

VALID_ENVS = ("local", "aws")

LOCAL_LAKE_BUCKET = "baton-lake"
LOCAL_SNOWFLAKE_DATABASE = "BATON"
WAREHOUSE_SCHEMAS = ("RAW", "ANALYTICS")
LOCAL_ALERT_SENDER = "baton@baton.local"
LOCAL_ALERT_RECIPIENTS = "data-engineering@baton.local"


class ConfigurationError(ValueError):
    """A setting is missing or invalid; the message names every variable at fault."""


@dataclass(frozen=True)
class AwsSettings:
    """How boto3 reaches AWS. `None` endpoint and keys mean AWS itself and boto3's credential chain."""

    region: str
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    lambda_endpoint_url: str | None = None


@dataclass(frozen=True)
class SnowflakeSettings:
    """Connection settings; secrets are named by environment variable, so the UI never shows them."""

    account: str
    user: str
    database: str
    password: str | None = None  # a literal password: only the local stack's, which guards nothing
    password_env: str | None = None
    private_key_path: str | None = None
    warehouse: str | None = None
    role: str | None = None
    connection_args: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class ChainSettings:
    """The worker function and what its chains read from."""

    function_name: str
    role_arn: str
    vendor_base_url: str
    vendor_secret_parameter: str


@dataclass(frozen=True)
class AlertSettings:
    """Who hears about a failed run (by SES email), and the UI the message links to."""

    sender: str
    recipients: tuple[str, ...]
    ui_url: str


@dataclass(frozen=True)
class Settings:
    env: str
    deployment: str
    lake_bucket: str
    aws: AwsSettings
    snowflake: SnowflakeSettings
    chains: ChainSettings
    alerts: AlertSettings
    storage_integration: str | None = None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve the settings for `$BATON_ENV`; raise `ConfigurationError` naming what is wrong."""
    env = dict(os.environ if environ is None else environ)
    name = env.get("BATON_ENV", "local")
    if name == "local":
        return _local_settings(env)
    if name == "aws":
        return _aws_settings(env)
    raise ConfigurationError(f"BATON_ENV={name!r} is not valid; use one of: {', '.join(VALID_ENVS)}")


def _local_settings(env: Mapping[str, str]) -> Settings:
    """Endpoints of the running local stack, found through its home folder."""
    stack = LocalStack(stack_home(env), environ=env)
    try:
        stack_env = stack.environment()
    except StackError as exc:
        raise ConfigurationError(f"BATON_ENV=local: {exc}") from exc
    if "BATON_SNOWFLAKE_URL" not in stack_env:
        raise ConfigurationError("BATON_ENV=local: the local Snowflake is not running; run `baton stack up`")
    snowflake_url = urlparse(stack_env["BATON_SNOWFLAKE_URL"])
    return Settings(
        env="local",
        deployment="local",
        lake_bucket=env.get("BATON_LAKE_BUCKET", LOCAL_LAKE_BUCKET),
        aws=AwsSettings(
            region=stack_env["AWS_DEFAULT_REGION"],
            endpoint_url=stack_env["AWS_ENDPOINT_URL"],
            access_key_id=stack_env["AWS_ACCESS_KEY_ID"],
            secret_access_key=stack_env["AWS_SECRET_ACCESS_KEY"],
            lambda_endpoint_url=stack_env.get("AWS_ENDPOINT_URL_LAMBDA"),
        ),
        chains=ChainSettings(
            function_name=env.get("BATON_CHAIN_FUNCTION", "baton-chain"),
            role_arn="arn:aws:iam::123456789012:role/baton-chain",
            vendor_base_url=stack_env.get("BATON_VENDOR_URL", ""),
            vendor_secret_parameter=VENDOR_SECRET_PARAMETER,
        ),
        alerts=_alerts(env, LOCAL_ALERT_SENDER, LOCAL_ALERT_RECIPIENTS),
        snowflake=SnowflakeSettings(
            account="baton",
            user="baton",
            database=LOCAL_SNOWFLAKE_DATABASE,
            password="baton-local",
            connection_args={
                "host": snowflake_url.hostname,
                "port": snowflake_url.port,
                "protocol": "http",
                # fakesnow answers some unsupported SQL with a 500, which the connector would retry
                # without end: a bound turns that into an error.
                "network_timeout": 600,
                "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
            },
        ),
    )


def _aws_settings(env: Mapping[str, str]) -> Settings:
    """Real AWS (boto3's credential chain) and real Snowflake, all named by environment variables."""
    required = ("BATON_LAKE_BUCKET", *_CHAIN_REQUIRED, *_ALERT_REQUIRED, *_SNOWFLAKE_REQUIRED)
    missing = [var for var in required if not env.get(var)]
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not region:
        missing.append("AWS_REGION (or AWS_DEFAULT_REGION)")
    if not env.get("SNOWFLAKE_PASSWORD") and not env.get("SNOWFLAKE_PRIVATE_KEY_PATH"):
        missing.append("SNOWFLAKE_PASSWORD (or SNOWFLAKE_PRIVATE_KEY_PATH)")
    if missing:
        raise ConfigurationError("BATON_ENV=aws needs these environment variables: " + ", ".join(missing))
    assert region is not None
    deployment = env.get("BATON_DEPLOYMENT", "prod")
    return Settings(
        env="aws",
        deployment=deployment,
        lake_bucket=env["BATON_LAKE_BUCKET"],
        aws=AwsSettings(region=region),
        chains=ChainSettings(
            function_name=env.get("BATON_CHAIN_FUNCTION", "baton-chain"),
            role_arn=env["BATON_CHAIN_ROLE_ARN"],
            vendor_base_url=env["BATON_VENDOR_BASE_URL"],
            vendor_secret_parameter=f"/baton/{deployment}/secrets/vendor_api_key",
        ),
        alerts=_alerts(env, env["BATON_ALERT_SENDER"], env["BATON_ALERT_RECIPIENTS"]),
        storage_integration=env.get("SNOWFLAKE_STORAGE_INTEGRATION"),
        snowflake=SnowflakeSettings(
            account=env["SNOWFLAKE_ACCOUNT"],
            user=env["SNOWFLAKE_USER"],
            database=env["SNOWFLAKE_DATABASE"],
            password_env="SNOWFLAKE_PASSWORD" if env.get("SNOWFLAKE_PASSWORD") else None,
            private_key_path=env.get("SNOWFLAKE_PRIVATE_KEY_PATH"),
            warehouse=env["SNOWFLAKE_WAREHOUSE"],
            role=env.get("SNOWFLAKE_ROLE"),
        ),
    )


_CHAIN_REQUIRED = ("BATON_CHAIN_ROLE_ARN", "BATON_VENDOR_BASE_URL")
_ALERT_REQUIRED = ("BATON_ALERT_SENDER", "BATON_ALERT_RECIPIENTS")
_SNOWFLAKE_REQUIRED = ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_DATABASE", "SNOWFLAKE_WAREHOUSE")


def _alerts(env: Mapping[str, str], default_sender: str, default_recipients: str) -> AlertSettings:
    """`BATON_ALERT_SENDER`, `BATON_ALERT_RECIPIENTS` (comma-separated) and `BATON_UI_URL`."""
    recipients = env.get("BATON_ALERT_RECIPIENTS") or default_recipients
    return AlertSettings(
        sender=env.get("BATON_ALERT_SENDER") or default_sender,
        recipients=tuple(address.strip() for address in recipients.split(",") if address.strip()),
        ui_url=(env.get("BATON_UI_URL") or "http://127.0.0.1:3000").rstrip("/"),
    )
