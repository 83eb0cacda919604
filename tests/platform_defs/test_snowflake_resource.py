"""The Snowflake resource: the connector's arguments from the resource's fields, one way to log in."""

from __future__ import annotations

import pytest

from platform_defs.resources.warehouse import APPLICATION, SnowflakeResource

FIELDS = {"account": "acme-xy123", "user": "loader", "database": "MARKETS", "warehouse": "LOAD_WH"}


def test_a_password_login_passes_the_set_fields_in_autocommit_mode() -> None:
    resource = SnowflakeResource(**FIELDS, password="s3cret", additional_snowflake_connection_args={"port": 8443})
    assert resource._connection_args() == {
        **FIELDS,
        "password": "s3cret",
        "autocommit": True,
        "application": APPLICATION,
        "port": 8443,
    }


def test_a_key_pair_login_hands_the_key_file_to_the_connector() -> None:
    resource = SnowflakeResource(**FIELDS, private_key_path="/run/secrets/snowflake.p8", role="LOADER")
    args = resource._connection_args()
    assert args["private_key_file"] == "/run/secrets/snowflake.p8" and args["role"] == "LOADER"
    assert "password" not in args


@pytest.mark.parametrize("credentials", [{}, {"password": "s3cret", "private_key_path": "/run/secrets/snowflake.p8"}])
def test_the_resource_takes_exactly_one_way_to_log_in(credentials: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="a password or a private key path, and not both"):
        SnowflakeResource(**FIELDS, **credentials)
