"""boto3 clients for the chain side, built from `AwsSettings` in one place.

Only the region is passed: endpoints (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_LAMBDA`, ...) and
credentials come from boto3's own configuration, so production and the local stack differ only
in their environment.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

from platform_defs.settings import AwsSettings

__all__ = ["aws_client", "lambda_client", "shared_client"]

# A link may run for up to 15 minutes; the synchronous invoke must outwait it. TCP keepalive keeps
# the idle connection alive meanwhile: AWS NAT gateways drop a connection silent for 350 s.
_LAMBDA_CONFIG = Config(read_timeout=960, connect_timeout=10, retries={"max_attempts": 0}, tcp_keepalive=True)


# Parameter Store allows 40 transactions a second per account and region by default, shared by the
# links and by Dagster's sensors and drivers: past it AWS answers ThrottlingException, from which
# botocore's standard mode backs off (with jitter) instead of failing a sensor tick or a run.
_RETRIES = Config(retries={"mode": "standard", "max_attempts": 10})


def aws_client(settings: AwsSettings, service: str, config: Config | None = None) -> Any:
    """A client with standard retries; `config` (the Lambda client's, say) overrides them.

    One per service, settings and configuration in a process (`shared_client`).
    """
    # Keyed by what the caller asked for. botocore adds to the nested options (the retries) of a
    # config it is given, so each client gets deep copies and the module's configs stay as written.
    options = repr(sorted(config._user_provided_options.items())) if config is not None else ""

    def build() -> Any:
        merged = copy.deepcopy(_RETRIES).merge(copy.deepcopy(config) if config is not None else Config())
        return boto3.client(service, region_name=settings.region, config=merged)  # type: ignore[call-overload]

    return shared_client((service, settings.region, options), build)


_CLIENTS: dict[tuple[str, ...], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def shared_client(key: tuple[str, ...], build: Callable[[], Any]) -> Any:
    """The client `build` makes, built once per `key` and AWS environment in this process.

    Building a boto3 client loads botocore's service models, about a quarter of a second; a
    lineage run asked for eight per partition. boto3 clients are safe to share between threads.
    The environment's `AWS_*` variables (endpoints, credentials, profile) are part of the key, so
    a process pointed elsewhere gets a client of its own.

    A client builds its modeled exception classes (`client.exceptions`) on first use, and two
    threads doing so at once get different classes: `except client.exceptions.ParameterNotFound`
    in one thread then misses the error the other thread's classes raised. They are built here,
    before the client is shared.
    """
    environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
    full_key = (*key, repr(environment))
    with _CLIENTS_LOCK:
        if full_key not in _CLIENTS:
            client = build()
            client.exceptions  # noqa: B018 (loaded once, here, under the lock)
            _CLIENTS[full_key] = client
        return _CLIENTS[full_key]


def lambda_client(settings: AwsSettings) -> Any:
    return aws_client(settings, "lambda", _LAMBDA_CONFIG)
