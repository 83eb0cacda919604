"""Secrets (vendor API keys) from SSM SecureString, read once per execution environment.

Warm invocations reuse the value instead of calling SSM on every link; the value is never
logged or put in a record, an event or an error message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

__all__ = ["SecretReader"]

_cache: dict[str, str] = {}


class SecretReader:
    def __init__(self, client: SSMClient):
        self._client = client

    def forget(self, parameter: str) -> None:
        """Drop a value the source refused (a 401 or 403), so the next link reads it afresh."""
        _cache.pop(parameter, None)

    def get(self, parameter: str) -> str:
        if parameter not in _cache:
            response = self._client.get_parameter(Name=parameter, WithDecryption=True)
            _cache[parameter] = response["Parameter"]["Value"]
        return _cache[parameter]
