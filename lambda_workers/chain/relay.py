"""Relay mode: a link hands the baton on by invoking its own function asynchronously.

On AWS this needs the function's recursion config set to Allow, or Lambda stops the loop after
about 16 hops; asynchronous retries must be 0, because a chain retries itself from its cursor.
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
