"""Snowflake as the assets see it: dagster-snowflake's resource, plus local first-use set-up."""

from __future__ import annotations

from dagster import InitResourceContext
from dagster_snowflake import SnowflakeResource

from platform_defs.settings import WAREHOUSE_SCHEMAS

__all__ = ["LOCAL_SNOWFLAKE_CONNECTION_ARGS", "LocalSnowflakeResource"]

LOCAL_SNOWFLAKE_CONNECTION_ARGS: dict[str, object] = {
    # The local Snowflake answers some unsupported SQL with a 500, which the connector would
    # retry without end: a bound turns that into an error.
    "network_timeout": 600,
    # It has no telemetry endpoint.
    "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
}
"""What the connector needs to talk to the local stack's Snowflake, on top of its endpoint."""


class LocalSnowflakeResource(SnowflakeResource):
    """The local Snowflake, whose database and schemas are created on first use.

    On Snowflake itself they are infrastructure, owned by an administrator's role; locally
    nobody else would create them.
    """

    def setup_for_execution(self, context: InitResourceContext) -> None:
        with self.get_connection() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {self.database}")
            for schema in WAREHOUSE_SCHEMAS:
                cur.execute(f"CREATE SCHEMA IF NOT EXISTS {self.database}.{schema}")
