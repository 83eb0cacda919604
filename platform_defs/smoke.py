"""A smoke check of the platform's connections, through the very resources the assets use.

`baton demo` runs it before the main job, so a broken endpoint or credential shows up as one
clear line instead of a failed step deep in a run.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

__all__ = ["CheckResult", "check_connections"]


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    seconds: float


def check_connections(resource_defs: Mapping[str, Any]) -> list[CheckResult]:
    """Write and read back one object and one parameter, and query the warehouse."""
    token = uuid.uuid4().hex
    with dg.build_resources(resource_defs) as resources:
        return [
            _timed("lake (S3)", lambda: _lake_round_trip(resources.lake, token)),
            _timed("parameters (SSM)", lambda: _ssm_round_trip(resources.chains.ssm(), token)),
            _timed("warehouse (Snowflake)", lambda: _warehouse_query(resources.snowflake)),
        ]


def _timed(name: str, check: Callable[[], str]) -> CheckResult:
    start = time.perf_counter()
    try:
        detail = check()
    except Exception as exc:  # a smoke check reports every failure instead of stopping at the first
        return CheckResult(name, False, f"{type(exc).__name__}: {exc}", time.perf_counter() - start)
    return CheckResult(name, True, detail, time.perf_counter() - start)


def _lake_round_trip(lake: Any, token: str) -> str:
    key = f"_smoke/{token}"
    client = lake.client()
    client.put_object(Bucket=lake.bucket, Key=key, Body=token.encode())
    try:
        assert client.get_object(Bucket=lake.bucket, Key=key)["Body"].read() == token.encode()
    finally:
        client.delete_object(Bucket=lake.bucket, Key=key)
    return lake.uri("")


def _ssm_round_trip(client: Any, token: str) -> str:
    name = f"/baton/_smoke/{token}"
    client.put_parameter(Name=name, Value=token, Type="String")
    try:
        assert client.get_parameter(Name=name)["Parameter"]["Value"] == token
    finally:
        client.delete_parameter(Name=name)
    return "/baton/"


def _warehouse_query(snowflake: Any) -> str:
    with snowflake.get_connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT CURRENT_DATABASE()")
        (database,) = cur.fetchone()
    return f"database {database}"
