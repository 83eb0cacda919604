"""Turn `Settings` into the resources every asset uses, the same keys in every environment."""

from __future__ import annotations

from typing import Any

from dagster import EnvVar
from dagster_aws.s3 import S3Resource

from platform_defs.resources.chains import ChainResource
from platform_defs.resources.lake import Lake, LocalLake
from platform_defs.resources.notifier import EmailNotifier, LocalEmailNotifier
from platform_defs.resources.warehouse import LOCAL_SNOWFLAKE_CONNECTION_ARGS, LocalSnowflakeResource, SnowflakeResource
from platform_defs.settings import Settings

__all__ = ["build_resources"]


def build_resources(settings: Settings) -> dict[str, Any]:
    """The resources for `settings.env`; only the local variants add first-use set-up."""
    local = settings.env == "local"
    aws = {"region_name": settings.aws.region}
    s3 = S3Resource(**aws)
    lake_class = LocalLake if local else Lake
    snowflake_class = LocalSnowflakeResource if local else SnowflakeResource
    sf = settings.snowflake
    connection_args = {**sf.connection_args, **(LOCAL_SNOWFLAKE_CONNECTION_ARGS if local else {})}
    vendors = settings.chains.vendors
    return {
        "chains": ChainResource(
            function_name=settings.chains.function_name,
            deployment=settings.deployment,
            region_name=settings.aws.region,
            checkpoint_seconds=settings.chains.checkpoint_seconds,
            vendor_base_urls={name: vendor.base_url for name, vendor in vendors.items()},
            vendor_secret_parameters={name: vendor.secret_parameter for name, vendor in vendors.items()},
        ),
        "notifier": (LocalEmailNotifier if local else EmailNotifier)(
            sender=settings.alerts.sender,
            recipients=list(settings.alerts.recipients),
            ui_url=settings.alerts.ui_url,
            **aws,
        ),
        "s3": s3,
        "lake": lake_class(bucket=settings.lake_bucket, s3=s3),
        "snowflake": snowflake_class(
            account=sf.account,
            user=sf.user,
            password=EnvVar(sf.password_env) if sf.password_env else None,
            private_key_path=sf.private_key_path,
            database=sf.database,
            warehouse=sf.warehouse,
            role=sf.role,
            additional_snowflake_connection_args=connection_args or None,
        ),
    }
