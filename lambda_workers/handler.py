"""The one Lambda entry point: `lambda_workers.handler.lambda_handler(event, context)`.

Thin on purpose: parse and validate the event (a bad one is rejected before any side effect),
build the runner on boto3 clients, run one link, return its result as the plain JSON object
Lambda requires (`LinkResult.to_payload`; a driver reads it back with `from_payload`). AWS
clients are created once per execution environment, so warm links skip the set-up; inside
Lambda they are created during init, which has its own time limit, so a cold link's deadline is
all for work.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from lambda_workers.chain.chunks import ChunkWriter
from lambda_workers.chain.cursor_store import SsmCursorStore
from lambda_workers.chain.fence import LinkFence
from lambda_workers.chain.link_context import ShortLinkContext
from lambda_workers.chain.relay import LambdaRelay
from lambda_workers.chain.runner import ChainRunner, LambdaContext
from lambda_workers.chain.status import ChainMode
from lambda_workers.events import parse_event
from lambda_workers.secrets import SecretReader
from lambda_workers.sources import SourceContext, build_source

__all__ = ["lambda_handler"]

logging.getLogger().setLevel(os.environ.get("BATON_LOG_LEVEL", "INFO"))


# Parameter Store allows 40 transactions a second per account and region by default, shared by
# every chain: past it AWS answers ThrottlingException, which the standard retry mode backs off
# from (with jitter) instead of failing the link.
_RETRIES = Config(retries={"mode": "standard", "max_attempts": 10})


@cache
def _client(service: str) -> Any:
    return boto3.client(service, config=_RETRIES)  # type: ignore[call-overload]


def _create_clients_during_init() -> None:
    """Only inside a Lambda runtime: an in-process caller (a test, a benchmark) sets its endpoints later."""
    if "AWS_LAMBDA_RUNTIME_API" in os.environ:
        for service in ("ssm", "s3", "lambda"):
            _client(service)


_create_clients_during_init()


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    link_event = parse_event(event)
    if link_event.link_seconds is not None:
        context = ShortLinkContext(context, link_event.link_seconds)
    remaining = context.get_remaining_time_in_millis
    source_context = SourceContext(
        secrets=SecretReader(_client("ssm")), s3=_client("s3"), remaining_seconds=lambda: remaining() / 1000
    )
    source = build_source(link_event.source, source_context)
    relay = LambdaRelay(_client("lambda"), context.invoked_function_arn) if link_event.mode == ChainMode.RELAY else None
    fence = LinkFence(_client("s3"), link_event.bucket, link_event.deployment)
    writer = ChunkWriter(_client("s3"), link_event.bucket)
    runner = ChainRunner(SsmCursorStore(_client("ssm")), writer, fence, relay)
    try:
        return runner.run_link(link_event, source, context).to_payload()
    finally:
        writer.close()
