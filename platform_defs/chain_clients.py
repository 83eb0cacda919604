"""boto3 clients for the chain side, built from `AwsSettings` in one place."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import boto3
from botocore.config import Config

from platform_defs.settings import AwsSettings

__all__ = ["aws_client", "lambda_client"]

# A link may run for up to 15 minutes; the synchronous invoke must outwait it.
_LAMBDA_CONFIG = Config(read_timeout=960, connect_timeout=10, retries={"max_attempts": 0})


def aws_client(settings: AwsSettings, service: str, config: Config | None = None) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        region_name=settings.region,
        endpoint_url=settings.endpoint_url,
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
        config=config,
    )


def lambda_client(settings: AwsSettings) -> Any:
    endpoint = settings.lambda_endpoint_url or settings.endpoint_url
    return aws_client(replace(settings, endpoint_url=endpoint), "lambda", _LAMBDA_CONFIG)
