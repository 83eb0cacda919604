"""Snowflake as the assets see it: dagster-snowflake's resource, plus local first-use set-up."""

from __future__ import annotations

from dagster import InitResourceContext
from dagster_snowflake import SnowflakeResource

from platform_defs.settings import WAREHOUSE_SCHEMAS

__all__ = ["LocalSnowflakeResource"]


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
