"""Relay mode: a link hands the baton on by invoking its own function asynchronously.

On AWS this needs the function's recursion config set to Allow, or Lambda stops the loop after
about 16 hops. Asynchronous retries are safe: a retried link re-runs from its last commit, the
fence keeps a duplicate copy from committing, and a retry of a link that committed but died
before this call hands on again.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

__all__ = ["LambdaRelay"]

logger = logging.getLogger(__name__)


class LambdaRelay:
    def __init__(self, client: LambdaClient, function_arn: str):
        self._client = client
        self._function = function_arn

    def send(self, event: dict[str, Any]) -> None:
        self._client.invoke(FunctionName=self._function, InvocationType="Event", Payload=json.dumps(event).encode())
        logger.info("handed the baton to link %s of chain %s", event.get("link"), event.get("chain_id"))
