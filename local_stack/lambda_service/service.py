"""`LambdaService`: the whole local Lambda, wired together, startable in-process or by `__main__`.

Settings come from the environment the service inherits (the stack launcher's): the AWS
credentials, region and `AWS_ENDPOINT_URL*` endpoints (handed on to every runtime), and
`BATON_LAMBDA_RETRY_DELAY_SCALE` (default 1/60: Lambda's 1 and 2 minute retry waits become ~1 and
~2 s), `BATON_LAMBDA_EVENT_AGE_SCALE` (default 1) and `BATON_LAMBDA_IDLE_SECONDS` (default 300: how
long a warm environment may sit idle before it is reclaimed).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local_stack.lambda_service.api import ApiServer, LambdaApi
from local_stack.lambda_service.async_queue import AsyncQueue
from local_stack.lambda_service.destinations import Destinations
from local_stack.lambda_service.errors import InvalidParameterValue
from local_stack.lambda_service.functions import FunctionRegistry
from local_stack.lambda_service.invoker import Invoker
from local_stack.lambda_service.logs import CloudWatchShipper, LogStore
from local_stack.lambda_service.pool import EnvironmentPool
from local_stack.lambda_service.python_runtime import build_runtime

__all__ = ["LambdaService"]

logger = logging.getLogger(__name__)


def _float_setting(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name}={raw!r} is not a number") from exc
    if value < 0:
        raise ValueError(f"{name}={raw!r} must not be negative")
    return value


class _S3Fetcher:
    """Reads deployment packages named by S3Bucket/S3Key from the local S3."""

    def __init__(self, environ: Mapping[str, str], region: str):
        self._endpoint = environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL")
        self._region = region
        self._client: Any = None  # made on first use: most functions are created from a zip, not S3

    def __call__(self, bucket: str, key: str, version: str | None) -> bytes:
        import boto3
        from botocore.exceptions import ClientError

        if self._client is None:
            self._client = boto3.session.Session().client("s3", region_name=self._region, endpoint_url=self._endpoint)
        client = self._client
        kwargs = {"Bucket": bucket, "Key": key, **({"VersionId": version} if version else {})}
        try:
            return client.get_object(**kwargs)["Body"].read()
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise InvalidParameterValue(
                f"Error occurred while GetObject. S3 Error Code: {error.get('Code')}. "
                f"S3 Error Message: {error.get('Message')}"
            ) from exc


class LambdaService:
    """The local Lambda API on `host:port`; function code, logs and the runtime directory live under `state_dir`."""

    def __init__(self, host: str, port: int, state_dir: Path, environ: Mapping[str, str] | None = None):
        self._environ = dict(os.environ if environ is None else environ)
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        region = self._environ.get("AWS_REGION") or self._environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.registry = FunctionRegistry(self.state_dir, region, _S3Fetcher(self._environ, region))
        self.pool = EnvironmentPool(
            self._environ,
            self.registry.prune_code,
            idle_timeout=_float_setting(self._environ, "BATON_LAMBDA_IDLE_SECONDS", 300.0),
            runtime=build_runtime(self.state_dir / "runtime"),
        )
        self.log_store = LogStore(self.state_dir)
        self._shipper = CloudWatchShipper(self._environ, region)
        self.invoker = Invoker(self.pool, self.log_store, self._shipper)
        self.async_queue = AsyncQueue(
            self.registry,
            self.invoker,
            Destinations(self._environ),
            retry_delay_scale=_float_setting(self._environ, "BATON_LAMBDA_RETRY_DELAY_SCALE", 1 / 60),
            event_age_scale=_float_setting(self._environ, "BATON_LAMBDA_EVENT_AGE_SCALE", 1.0),
        )
        self.registry.subscribe(self.pool.function_changed)
        self.registry.subscribe(self.async_queue.function_changed)
        self._server = ApiServer((host, port), LambdaApi(self.registry, self.invoker, self.async_queue, self.log_store))
        self._thread = threading.Thread(target=self._server.serve_forever, name="lambda-api", daemon=True)
        self._stopped = False

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self.pool.start()
        self._shipper.start()
        self.async_queue.start()
        self._thread.start()
        logger.info("local Lambda service listening on %s (state in %s)", self.url, self.state_dir)

    def stop(self) -> None:
        """Stop accepting requests, kill every runtime process, flush the logs."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        self.async_queue.stop()
        self.pool.shutdown()
        self._shipper.stop()
        logger.info("local Lambda service stopped")
