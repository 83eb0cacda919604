"""The local Snowflake answers as Snowflake does where fakesnow alone does not."""

from __future__ import annotations

import uuid

from local_stack.stack import LocalStack
from platform_defs.resources.build import build_resources
from platform_defs.settings import load_settings


def test_a_table_comment_with_a_quote_is_kept_as_written(local_stack: LocalStack) -> None:
    table = f"QUOTED_{uuid.uuid4().hex[:8].upper()}"
    with build_resources(load_settings())["snowflake"].get_connection() as connection, connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE IF NOT EXISTS BATON")
        cursor.execute("CREATE SCHEMA IF NOT EXISTS BATON.FIDELITY")
        cursor.execute("USE SCHEMA BATON.FIDELITY")
        cursor.execute(f"CREATE TABLE {table} (ID VARCHAR) COMMENT = 'the vendor''s indices'")
        cursor.execute(
            "SELECT comment FROM information_schema.tables WHERE table_schema = 'FIDELITY' AND table_name = %s",
            (table,),
        )
        assert cursor.fetchall() == [("the vendor's indices",)]
