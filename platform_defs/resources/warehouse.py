"""Snowflake as the assets see it: connections from the Snowflake connector, plus local first-use set-up."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import snowflake.connector
from dagster import ConfigurableResource
from pydantic import PrivateAttr, model_validator
from snowflake.connector import SnowflakeConnection

from platform_defs.settings import WAREHOUSE_SCHEMAS

__all__ = ["APPLICATION", "LOCAL_SNOWFLAKE_CONNECTION_ARGS", "LocalSnowflakeResource", "SnowflakeResource"]

APPLICATION = "DagsterLabs_Dagster"
"""The client application each session reports to Snowflake: the name dagster-snowflake's resource gave."""

LOCAL_SNOWFLAKE_CONNECTION_ARGS: dict[str, object] = {
    # The local Snowflake answers some unsupported SQL with a 500, which the connector would
    # retry without end: a bound turns that into an error.
    "network_timeout": 600,
    # It has no telemetry endpoint.
    "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
}
"""What the connector needs to talk to the local stack's Snowflake, on top of its endpoint."""


class SnowflakeResource(ConfigurableResource):
    """Connections from the Snowflake connector, configured with the fields of dagster-snowflake's resource.

    Baton only ever asks for a connector connection. dagster-snowflake's `SnowflakeResource`
    imports Snowpark and the Snowflake Python API too, which Baton never uses: half of the code
    location's import time (3.5 of 7 s), which every run worker, a process per run, paid before
    its first step.

    Sessions are in autocommit mode whatever the account's default (a session parameter of the
    login, so no statement of its own): the code that needs a transaction opens one (the
    warehouse load, the SQL models' `transaction`), and nothing is left to commit on close.
    """

    account: str
    user: str
    password: str | None = None
    private_key_path: str | None = None
    database: str | None = None
    warehouse: str | None = None
    role: str | None = None
    additional_snowflake_connection_args: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_way_to_log_in(self) -> SnowflakeResource:
        if (self.password is None) == (self.private_key_path is None):
            raise ValueError("the Snowflake resource needs a password or a private key path, and not both")
        return self

    @contextmanager
    def get_connection(self) -> Iterator[SnowflakeConnection]:
        connection = snowflake.connector.connect(**self._connection_args())
        try:
            yield connection
        finally:
            connection.close()

    def _connection_args(self) -> dict[str, Any]:
        fields = {
            "account": self.account,
            "user": self.user,
            "password": self.password,
            "private_key_file": self.private_key_path,
            "database": self.database,
            "warehouse": self.warehouse,
            "role": self.role,
        }
        return {
            **{name: value for name, value in fields.items() if value is not None},
            "autocommit": True,
            "application": APPLICATION,
            **(self.additional_snowflake_connection_args or {}),
        }


class LocalSnowflakeResource(SnowflakeResource):
    """The local Snowflake, whose database and schemas are created on first use.

    On Snowflake itself they are infrastructure, owned by an administrator's role; locally
    nobody else would create them. They are created on the first connection the resource gives
    out (Dagster initialises a copy of the resource per run, so once a run), not at the
    resource's set-up: a connection of its own cost each run a login and a logout on top of
    the statements.
    """

    _set_up: bool = PrivateAttr(default=False)

    @contextmanager
    def get_connection(self) -> Iterator[SnowflakeConnection]:
        with super().get_connection() as connection:
            if not self._set_up:
                with connection.cursor() as cur:
                    cur.execute(f"CREATE DATABASE IF NOT EXISTS {self.database}")
                    for schema in WAREHOUSE_SCHEMAS:
                        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {self.database}.{schema}")
                self._set_up = True
            yield connection
