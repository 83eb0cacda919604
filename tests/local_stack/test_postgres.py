"""The local PostgreSQL is optional: a stack home without its cluster never needs the server installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_stack import postgres
from local_stack.postgres import LocalPostgres, PostgresError


def test_a_home_without_a_cluster_needs_no_postgresql_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`baton stack up|down|status|env` ask whether it runs on every machine, PostgreSQL installed or not."""

    def not_installed() -> Path:
        raise PostgresError("PostgreSQL's server is not installed")

    monkeypatch.setattr(postgres, "postgres_bin_dir", not_installed)
    server = LocalPostgres(tmp_path)
    assert server.port() is None
    assert server.stop() is False
    with pytest.raises(PostgresError, match="not running: start it with `baton stack up --with-postgres`"):
        server.environment()
