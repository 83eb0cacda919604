"""Baton's settings, read from the environment only: one set of variables for every environment.

AWS is reached through boto3's own configuration (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`,
the credential chain), Snowflake through the connection variables its tools use (`SNOWFLAKE_*`,
host, port and protocol included), and the rest through `BATON_*`. `BATON_ENV` then only picks
which resources the assets get (`local` adds first-use set-up the local stack needs; `aws`
assumes infrastructure an administrator owns). The local stack prints the same variables
(`eval "$(baton stack env)"`), so there is one source of truth, not two.

Each vendor the catalogue calls has two variables named after it: `BATON_VENDOR_<NAME>_BASE_URL`
and `BATON_VENDOR_<NAME>_SECRET_PARAMETER` (optional; by default the SSM SecureString
`/baton/<deployment>/secrets/<name>`, which `baton secrets set <name>` writes). On AWS a missing
base URL fails the code location at load; locally, where the stack exports the built-in vendor's
and a new vendor may not be running yet, it fails only a run of that vendor's datasets, naming
the variable, so declaring a dataset never breaks the others.

Everything is resolved when the definitions load, so a missing or invalid setting fails the
code location at once with a message naming every variable at fault.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from lambda_workers.events import DEFAULT_CHECKPOINT_SECONDS
from platform_defs.dataset_spec import VendorEndpoint

__all__ = [
    "REQUIRED_VARIABLES",
    "VALID_ENVS",
    "WAREHOUSE_SCHEMAS",
    "AlertSettings",
    "AwsSettings",
    "ChainSettings",
    "ConfigurationError",
    "Settings",
    "SnowflakeSettings",
    "aws_settings",
    "load_settings",
    "vendor_secret_parameter",
    "vendor_secret_parameter_from_env",
    "vendor_variable",
]

VALID_ENVS = ("local", "aws")
WAREHOUSE_SCHEMAS = ("RAW", "ANALYTICS")

REQUIRED_VARIABLES = (
    "BATON_LAKE_BUCKET",
    "BATON_CHAIN_ROLE_ARN",
    "BATON_ALERT_SENDER",
    "BATON_ALERT_RECIPIENTS",
    "SNOWFLAKE_ACCOUNT",
    "SNOWFLAKE_USER",
    "SNOWFLAKE_DATABASE",
    "SNOWFLAKE_WAREHOUSE",
)
"""Needed in every environment, with each vendor's base URL; the local stack exports each of them."""


class ConfigurationError(ValueError):
    """A setting is missing or invalid; the message names every variable at fault."""


@dataclass(frozen=True)
class AwsSettings:
    """The region; endpoints and credentials are boto3's own business (its variables and chain)."""

    region: str


@dataclass(frozen=True)
class SnowflakeSettings:
    """Connection settings; the password is named by its variable, so the UI never shows it."""

    account: str
    user: str
    database: str
    warehouse: str
    password_env: str | None = None
    private_key_path: str | None = None
    role: str | None = None
    connection_args: Mapping[str, object] = field(default_factory=dict)  # host, port, protocol


@dataclass(frozen=True)
class ChainSettings:
    """The worker function and what its chains read from."""

    function_name: str
    role_arn: str
    vendors: Mapping[str, VendorEndpoint]
    checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS
    """How often a link commits its cursor: each commit is a Parameter Store write, a kill loses at most this."""


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


def vendor_secret_parameter(deployment: str, vendor: str) -> str:
    """The SSM SecureString holding a vendor's secret by default, which the workers read."""
    return f"/baton/{deployment}/secrets/{vendor}"


def vendor_secret_parameter_from_env(vendor: str, environ: Mapping[str, str] | None = None) -> str:
    """Where a vendor's secret goes, from the environment alone: no other setting need be complete."""
    env = os.environ if environ is None else environ
    return env.get(vendor_variable(vendor, "SECRET_PARAMETER")) or vendor_secret_parameter(
        env.get("BATON_DEPLOYMENT", "prod"), vendor
    )


def aws_settings(environ: Mapping[str, str] | None = None) -> AwsSettings:
    """The region alone, for commands that need AWS and nothing else."""
    env = os.environ if environ is None else environ
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not region:
        raise ConfigurationError("AWS_REGION (or AWS_DEFAULT_REGION) is not set")
    return AwsSettings(region)


def vendor_variable(vendor: str, suffix: str) -> str:
    """`BATON_VENDOR_<NAME>_<SUFFIX>`: a vendor's setting, named after it."""
    return f"BATON_VENDOR_{re.sub(r'[^A-Z0-9]', '_', vendor.upper())}_{suffix}"


def load_settings(environ: Mapping[str, str] | None = None, vendors: Collection[str] | None = None) -> Settings:
    """Resolve the settings from `environ` (default: the process environment).

    `vendors` are the vendors whose endpoints are needed (default: those the catalogue calls).
    Raises `ConfigurationError` naming every missing or invalid variable at once.
    """
    env = dict(os.environ if environ is None else environ)
    if vendors is None:
        from platform_defs.datasets import DATASETS, http_vendors

        vendors = http_vendors(DATASETS)
    name = env.get("BATON_ENV", "local")
    if name not in VALID_ENVS:
        raise ConfigurationError(f"BATON_ENV={name!r} is not valid; use one of: {', '.join(VALID_ENVS)}")
    missing = [var for var in REQUIRED_VARIABLES if not env.get(var)]
    unset_vendors = [v for v in sorted(vendors) if not env.get(vendor_variable(v, "BASE_URL"))]
    if name == "aws":
        missing += [vendor_variable(v, "BASE_URL") for v in unset_vendors]
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not region:
        missing.append("AWS_REGION (or AWS_DEFAULT_REGION)")
    if not env.get("SNOWFLAKE_PASSWORD") and not env.get("SNOWFLAKE_PRIVATE_KEY_PATH"):
        missing.append("SNOWFLAKE_PASSWORD (or SNOWFLAKE_PRIVATE_KEY_PATH)")
    if missing:
        hint = '; the local stack exports them all: eval "$(baton stack env)"' if name == "local" else ""
        raise ConfigurationError(f"BATON_ENV={name} needs these environment variables: {', '.join(missing)}{hint}")
    assert region is not None
    deployment = env.get("BATON_DEPLOYMENT", "prod")
    return Settings(
        env=name,
        deployment=deployment,
        lake_bucket=env["BATON_LAKE_BUCKET"],
        aws=AwsSettings(region=region),
        chains=ChainSettings(
            function_name=env.get("BATON_CHAIN_FUNCTION", "baton-chain"),
            role_arn=env["BATON_CHAIN_ROLE_ARN"],
            checkpoint_seconds=_checkpoint_seconds(env),
            vendors={
                vendor: VendorEndpoint(
                    base_url=_http_url(env, vendor_variable(vendor, "BASE_URL")),
                    secret_parameter=vendor_secret_parameter_from_env(vendor, env),
                )
                for vendor in sorted(vendors)
                if vendor not in unset_vendors
            },
        ),
        alerts=_alerts(env),
        storage_integration=env.get("SNOWFLAKE_STORAGE_INTEGRATION"),
        snowflake=SnowflakeSettings(
            account=env["SNOWFLAKE_ACCOUNT"],
            user=env["SNOWFLAKE_USER"],
            database=env["SNOWFLAKE_DATABASE"],
            warehouse=env["SNOWFLAKE_WAREHOUSE"],
            password_env="SNOWFLAKE_PASSWORD" if env.get("SNOWFLAKE_PASSWORD") else None,
            private_key_path=env.get("SNOWFLAKE_PRIVATE_KEY_PATH"),
            role=env.get("SNOWFLAKE_ROLE"),
            connection_args=_snowflake_endpoint(env),
        ),
    )


def _checkpoint_seconds(env: Mapping[str, str]) -> float:
    value = env.get("BATON_CHECKPOINT_SECONDS", "").strip()
    if not value:
        return DEFAULT_CHECKPOINT_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 900:
        raise ConfigurationError(
            f"BATON_CHECKPOINT_SECONDS={value!r} is not a number of seconds above 0 and at most 900 (a link's longest)"
        )
    return seconds


def _http_url(env: Mapping[str, str], variable: str) -> str:
    url = env[variable]
    if not re.match(r"^https?://[^/\s]+", url):
        raise ConfigurationError(f"{variable}={url!r} is not an http(s) URL")
    return url


def _snowflake_endpoint(env: Mapping[str, str]) -> dict[str, object]:
    """`SNOWFLAKE_HOST`, `SNOWFLAKE_PORT`, `SNOWFLAKE_PROTOCOL`: unset on Snowflake itself (the account decides)."""
    endpoint: dict[str, object] = {}
    if env.get("SNOWFLAKE_HOST"):
        endpoint["host"] = env["SNOWFLAKE_HOST"]
    port = env.get("SNOWFLAKE_PORT")
    if port:
        if not port.isdigit() or not 0 < int(port) <= 65535:
            raise ConfigurationError(f"SNOWFLAKE_PORT={port!r} is not a port number (1-65535)")
        endpoint["port"] = int(port)
    protocol = env.get("SNOWFLAKE_PROTOCOL")
    if protocol:
        if protocol not in ("https", "http"):
            raise ConfigurationError(f"SNOWFLAKE_PROTOCOL={protocol!r} is not valid; use one of: https, http")
        endpoint["protocol"] = protocol
    return endpoint


def _alerts(env: Mapping[str, str]) -> AlertSettings:
    """`BATON_ALERT_SENDER`, `BATON_ALERT_RECIPIENTS` (comma-separated) and `BATON_UI_URL`."""
    recipients = tuple(address.strip() for address in env["BATON_ALERT_RECIPIENTS"].split(",") if address.strip())
    if not recipients:
        raise ConfigurationError("BATON_ALERT_RECIPIENTS names no address; give comma-separated email addresses")
    return AlertSettings(
        sender=env["BATON_ALERT_SENDER"],
        recipients=recipients,
        ui_url=(env.get("BATON_UI_URL") or "http://127.0.0.1:3000").rstrip("/"),
    )
