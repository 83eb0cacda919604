"""A dbt project using every supported feature together builds with `baton sql build`, given only a profile.

The project (tests/dbt_like_sql/cases/jaffle) has macros, a local package (cents_utils), a
custom generic test, a singular test, an ephemeral model, hooks, grants, docs blocks, a
snapshot and `target.schema` in SQL; the test adds nothing to it but profiles.yml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dbt_like_sql.engine import SnowflakeAdapter
from platform_defs.cli import main as baton
from platform_defs.resources.warehouse import SnowflakeResource
from tests.dbt_like_sql.conftest import local_snowflake_output

CASES = Path(__file__).parent / "cases"

PROFILE = """
jaffle:
  target: local
  outputs:
    local:
""" + local_snowflake_output("JAFFLE_SCHEMA")


def test_the_fixture_project_builds_with_every_feature(
    tmp_path: Path,
    snowflake: SnowflakeResource,
    adapter: SnowflakeAdapter,
    schema: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shutil.copytree(CASES, tmp_path / "cases")
    project = tmp_path / "cases" / "jaffle"
    (tmp_path / "profiles.yml").write_text(PROFILE)
    monkeypatch.setenv("JAFFLE_SCHEMA", schema)
    arguments = ["--project-dir", str(project), "--profiles-dir", str(tmp_path)]
    assert baton(["sql", "deps", *arguments[:2]]) == 0
    assert baton(["sql", "build", *arguments]) == 0, capsys.readouterr()
    printed = capsys.readouterr().out
    assert "OK=9 WARN=0 FAIL=0 ERROR=0 SKIP=0 TOTAL=9" in printed

    def rows(sql: str) -> list[tuple[object, ...]]:
        return adapter.execute(sql)[1]

    marts = f"{schema}_MARTS"
    orders = rows(
        f'SELECT customer_id, first_name, orders, amount, open_orders FROM "{marts}"."CUSTOMER_ORDERS" ORDER BY 1'
    )
    assert [(c, n, o, float(a), k) for c, n, o, a, k in orders] == [
        (1, "Ann", 2, 35.0, 1),
        (2, "Bob", 1, 19.99, 1),
        (3, "Cat", 1, 3.5, 1),
    ]
    assert rows(f'SELECT DISTINCT built_in FROM "{schema}"."CUSTOMERS"') == [(schema,)], "target.schema in SQL"
    assert rows(f"SELECT model, row_count FROM {marts}.BUILD_LOG") == [("CUSTOMER_ORDERS", 3)], "the hooks ran"
    assert rows(f'SELECT COUNT(*) FROM "{schema}_HISTORY"."CUSTOMERS_HISTORY" WHERE dbt_valid_to IS NULL') == [(3,)]
    _, comment = adapter.execute(
        "SELECT comment FROM information_schema.tables WHERE table_schema = %s AND table_name = 'CUSTOMER_ORDERS'",
        (marts,),
    )
    assert comment == [("One row per customer: how many orders they placed and what they spent, in dollars.",)]
    for test in ("unique_customer_id", "not_null_customer_id", "at_most_orders", "every_customer_has_a_name"):
        assert f": test {test} on " in printed
    assert "GRANT SELECT ON TABLE" not in printed  # grants are recorded on the result, not printed
    assert rows("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'STG_ORDERS'") == [(0,)], (
        "the ephemeral model is never built"
    )
