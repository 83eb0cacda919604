"""boto3 clients for the chain side, built from `AwsSettings` in one place.

Only the region is passed: endpoints (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_LAMBDA`, ...) and
credentials come from boto3's own configuration, so production and the local stack differ only
in their environment.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from platform_defs.settings import AwsSettings

__all__ = ["aws_client", "lambda_client"]

# A link may run for up to 15 minutes; the synchronous invoke must outwait it. TCP keepalive keeps
# the idle connection alive meanwhile: AWS NAT gateways drop a connection silent for 350 s.
_LAMBDA_CONFIG = Config(read_timeout=960, connect_timeout=10, retries={"max_attempts": 0}, tcp_keepalive=True)


# Parameter Store allows 40 transactions a second per account and region by default, shared by the
# links and by Dagster's sensors and drivers: past it AWS answers ThrottlingException, from which
# botocore's standard mode backs off (with jitter) instead of failing a sensor tick or a run.
_RETRIES = Config(retries={"mode": "standard", "max_attempts": 10})


def aws_client(settings: AwsSettings, service: str, config: Config | None = None) -> Any:
    """A client with standard retries; `config` (the Lambda client's, say) overrides them."""
    merged = _RETRIES.merge(config) if config is not None else _RETRIES
    return boto3.client(service, region_name=settings.region, config=merged)  # type: ignore[call-overload]


def lambda_client(settings: AwsSettings) -> Any:
    return aws_client(settings, "lambda", _LAMBDA_CONFIG)
