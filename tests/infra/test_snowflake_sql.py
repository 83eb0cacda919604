"""infra/snowflake.sql parses, and its roles, warehouses and storage integration are as tight as it says.

The file is parsed with sqlglot's Snowflake dialect after its placeholders are filled in (it
says to replace them first). Statements sqlglot has no expression for come back as
`exp.Command`; those, and every GRANT, are read from their text with the small grammar below,
and a GRANT or Command that grammar cannot read fails the test rather than slipping past it.

The role and warehouse names come from the file (the loader is the role granted to the loader
user, the analyst the other role; each warehouse is the one its role is granted); the checks are
structural: the analyst reads ANALYTICS and nothing else, the loader holds no administrator's
power, and Snowflake may read the lake zone of the lake bucket only. Each check is also run on
the file with one bad statement added, to show that it would catch it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import sqlglot
import yaml
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError
from sqlglot.tokens import TokenType

from platform_defs.settings import WAREHOUSE_SCHEMAS
from platform_defs.warehouse import ensure_stage

ROOT = Path(__file__).parents[2]
SNOWFLAKE_SQL = ROOT / "infra" / "snowflake.sql"
TEMPLATE = ROOT / "infra" / "template.yaml"
DBT_PROJECT = ROOT / "dbt_like_sql" / "dbt_project.yml"

SAMPLES = {
    "DATABASE": "MARKETS",
    "LAKE_BUCKET": "acme-baton-lake",
    "SNOWFLAKE_ROLE_ARN": "arn:aws:iam::123456789012:role/baton-snowflake-prod",
    "LOADER_USER": "BATON_SVC",
}
"""A value for each placeholder the file's header documents, as an administrator would fill them in."""

RAW, ANALYTICS = WAREHOUSE_SCHEMAS
SYSTEM_ROLES = {"ACCOUNTADMIN", "ORGADMIN", "SECURITYADMIN", "SYSADMIN", "USERADMIN"}
ANALYST_MAY_HOLD = {
    "DATABASE": {"USAGE"},
    "SCHEMA": {"USAGE"},
    "WAREHOUSE": {"USAGE", "MONITOR"},
    "TABLE": {"SELECT", "REFERENCES"},
    "VIEW": {"SELECT", "REFERENCES"},
    "MATERIALIZED VIEW": {"SELECT", "REFERENCES"},
    "TABLES": {"SELECT", "REFERENCES"},
    "VIEWS": {"SELECT", "REFERENCES"},
    "MATERIALIZED VIEWS": {"SELECT", "REFERENCES"},
}
"""What a read-only role may hold, by the kind of object: reading, never writing, creating or operating."""

PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*)>")
DOCUMENTED_PLACEHOLDER = re.compile(r"^--\s+<([A-Z][A-Z0-9_]*)>\s", re.MULTILINE)
IDENTIFIER = r'(?:"[^"]+"|[A-Za-z_$][\w$]*)'
NAME = rf"{IDENTIFIER}(?:\.{IDENTIFIER})*"
ROLE_GRANT = re.compile(rf"GRANT\s+ROLE\s+(?P<role>{NAME})\s+TO\s+(?P<kind>ROLE|USER)\s+(?P<grantee>{NAME})", re.I)
PRIVILEGE_GRANT = re.compile(
    rf"GRANT\s+(?P<privileges>.+?)\s+ON\s+(?P<on>.+?)\s+TO\s+(?:ROLE\s+)?(?P<grantee>{NAME})"
    r"(?:\s+WITH\s+GRANT\s+OPTION)?",
    re.I | re.S,
)
ON_MANY = re.compile(
    rf"(?P<scope>ALL|FUTURE)\s+(?P<kind>[A-Z ]+?)\s+IN\s+(?P<container>DATABASE|SCHEMA)\s+(?P<name>{NAME})", re.I
)
ON_ONE = re.compile(rf"(?P<kind>[A-Z][A-Z ]*?)\s+(?P<name>{NAME})", re.I)
CREATE_ROLE = re.compile(rf"CREATE\s+(?:OR\s+REPLACE\s+)?ROLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<role>{NAME})", re.I)
ALTER_USER = re.compile(rf"ALTER\s+USER\s+(?:IF\s+EXISTS\s+)?(?P<user>{NAME})\s+SET\s+(?P<settings>.+)", re.I | re.S)


def _name(text: str) -> str:
    """An identifier as Snowflake resolves it: unquoted parts upper-cased, quotes dropped."""
    parts = re.findall(r'"[^"]+"|[^.]+', text)
    return ".".join(part[1:-1] if part.startswith('"') else part.upper() for part in parts)


@dataclass(frozen=True)
class Statement:
    text: str
    expression: exp.Expression

    def sql(self) -> str:
        """The statement's own text for a Command (sqlglot keeps it as written), else sqlglot's rendering."""
        if isinstance(self.expression, exp.Command):
            return " ".join(_strip_comments(self.text).split())
        return self.expression.sql(dialect="snowflake", comments=False)


@dataclass(frozen=True)
class Grant:
    """`GRANT <privileges> ON <on> TO ROLE <grantee>`, or `GRANT ROLE <role> TO ROLE|USER <grantee>`."""

    statement: str
    grantee: str
    privileges: frozenset[str] = frozenset()
    kind: str = ""  # the object's kind: ACCOUNT, DATABASE, SCHEMA, WAREHOUSE, TABLES (of ALL/FUTURE) ...
    name: str = ""  # the object (for ALL/FUTURE, the database or schema they are in)
    scope: str = ""  # ALL or FUTURE, for grants on every object of a kind in a container
    container: str = ""  # DATABASE or SCHEMA, for ALL/FUTURE grants
    role: str = ""  # the role granted, for a role grant
    grantee_kind: str = "ROLE"

    def schema(self) -> str | None:
        """The schema the grant reaches into: "*" for every schema of a database, None for none."""
        parts = self.name.split(".")
        if self.role or self.kind in {"ACCOUNT", "DATABASE", "WAREHOUSE", "INTEGRATION"}:
            return None
        if self.scope:
            return parts[-1] if self.container == "SCHEMA" else "*"
        if self.kind == "SCHEMA":
            return parts[-1]
        return parts[-2] if len(parts) >= 2 else "?"  # an unqualified object: its schema cannot be told


def _strip_comments(text: str) -> str:
    return re.sub(r"--[^\n]*|/\*.*?\*/", " ", text, flags=re.S)


def split_statements(sql: str) -> list[str]:
    """The statements of `sql`, cut at the semicolons sqlglot's tokenizer finds (none inside strings or comments)."""
    statements, current = [], []
    for token in Dialect.get_or_raise("snowflake").tokenize(sql):
        if token.token_type == TokenType.SEMICOLON:
            if current:
                statements.append(sql[current[0].start : current[-1].end + 1])
            current = []
        else:
            current.append(token)
    if current:
        statements.append(sql[current[0].start : current[-1].end + 1])
    return statements


def filled_in(sql: str) -> str:
    return PLACEHOLDER.sub(lambda match: SAMPLES[match.group(1)], sql)


def parse(sql: str) -> tuple[list[Statement], list[str]]:
    """The statements sqlglot parsed, and a message for each it could not."""
    parsed, errors = [], []
    for text in split_statements(filled_in(sql)):
        try:
            expression = sqlglot.parse_one(text, dialect="snowflake")
        except ParseError as exc:
            errors.append(f"{' '.join(text.split())[:120]!r}: {exc.errors[0]['description'] if exc.errors else exc}")
            continue
        parsed.append(Statement(text, expression))
    return parsed, errors


def read_grant(statement: str) -> Grant | None:
    if match := ROLE_GRANT.fullmatch(statement):
        return Grant(statement, _name(match["grantee"]), role=_name(match["role"]), grantee_kind=match["kind"].upper())
    if not (match := PRIVILEGE_GRANT.fullmatch(statement)):
        return None
    privileges = frozenset(" ".join(p.split()).upper() for p in match["privileges"].split(","))
    on = " ".join(match["on"].split())
    if on.upper() == "ACCOUNT":
        return Grant(statement, _name(match["grantee"]), privileges, kind="ACCOUNT")
    if many := ON_MANY.fullmatch(on):
        return Grant(
            statement,
            _name(match["grantee"]),
            privileges,
            kind=many["kind"].upper(),
            name=_name(many["name"]),
            scope=many["scope"].upper(),
            container=many["container"].upper(),
        )
    if one := ON_ONE.fullmatch(on):
        return Grant(statement, _name(match["grantee"]), privileges, kind=one["kind"].upper(), name=_name(one["name"]))
    return None


@dataclass(frozen=True)
class Setup:
    """What the file sets up, as read from its statements."""

    roles: tuple[str, ...]
    grants: tuple[Grant, ...]
    warehouses: tuple[str, ...]
    user_settings: dict[str, dict[str, str]]
    integrations: dict[str, exp.Create]
    unreadable: tuple[str, ...]

    def loader(self) -> str:
        """The role granted to the loader user: the one Baton connects with."""
        (role,) = {g.role for g in self.grants if g.grantee_kind == "USER" and g.grantee == SAMPLES["LOADER_USER"]}
        return role

    def analyst(self) -> str:
        (role,) = set(self.roles) - {self.loader()}
        return role

    def to(self, role: str) -> list[Grant]:
        return [g for g in self.grants if g.grantee_kind == "ROLE" and g.grantee == role]

    def warehouses_of(self, role: str) -> set[str]:
        return {g.name for g in self.to(role) if g.kind == "WAREHOUSE"}


def read_setup(statements: list[Statement]) -> Setup:
    roles, grants, warehouses, unreadable = [], [], [], []
    user_settings: dict[str, dict[str, str]] = {}
    integrations: dict[str, exp.Create] = {}
    for statement in statements:
        expression, text = statement.expression, statement.sql()
        if isinstance(expression, exp.Grant) or (isinstance(expression, exp.Command) and expression.name == "GRANT"):
            grant = read_grant(text)
            if grant is None:
                unreadable.append(text)
            else:
                grants.append(grant)
        elif isinstance(expression, exp.Create) and expression.kind == "WAREHOUSE":
            warehouses.append(_name(expression.this.sql(dialect="snowflake")))
        elif isinstance(expression, exp.Create) and expression.kind == "STORAGE INTEGRATION":
            integrations[_name(expression.this.sql(dialect="snowflake"))] = expression
        elif isinstance(expression, exp.Command):
            if match := CREATE_ROLE.match(text):
                roles.append(_name(match["role"]))
            elif match := ALTER_USER.fullmatch(text):
                settings = dict(re.findall(r"(\w+)\s*=\s*([^,\s]+)", match["settings"]))
                user_settings[_name(match["user"])] = {k.upper(): _name(v) for k, v in settings.items()}
            else:
                unreadable.append(text)
    return Setup(tuple(roles), tuple(grants), tuple(warehouses), user_settings, integrations, tuple(unreadable))


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, ...) read as plain values."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


@cache
def the_file() -> str:
    return SNOWFLAKE_SQL.read_text()


def setup_of(sql: str) -> Setup:
    statements, errors = parse(sql)
    assert not errors, errors
    return read_setup(statements)


# ---------------------------------------------------------------- the checks, each a list of what is wrong


def analyst_problems(setup: Setup) -> list[str]:
    analyst, problems = setup.analyst(), []
    for grant in setup.to(analyst):
        if grant.role:
            problems.append(f"{grant.statement}: the analyst inherits {grant.role}'s privileges")
            continue
        if grant.schema() in {RAW, "*"}:
            problems.append(f"{grant.statement}: reaches the {RAW} schema")
        if grant.schema() == "?":
            problems.append(f"{grant.statement}: an unqualified object, whose schema cannot be told")
        allowed = ANALYST_MAY_HOLD.get(grant.kind, set())
        if not grant.privileges <= allowed:
            problems.append(f"{grant.statement}: {sorted(grant.privileges - allowed)} is not read-only on {grant.kind}")
    return problems


def loader_problems(setup: Setup) -> list[str]:
    loader, problems = setup.loader(), []
    for grant in setup.to(loader):
        if grant.role in SYSTEM_ROLES:
            problems.append(f"{grant.statement}: the loader would be an administrator")
        elif grant.role:
            problems.append(f"{grant.statement}: the loader inherits {grant.role}, which this test cannot see into")
        if grant.kind == "ACCOUNT":
            problems.append(f"{grant.statement}: the loader needs nothing on the account")
        if "OWNERSHIP" in grant.privileges and grant.kind in {"ACCOUNT", "DATABASE", "INTEGRATION"}:
            problems.append(f"{grant.statement}: the loader would own {grant.kind} {grant.name}")
    return problems


def warehouse_problems(setup: Setup) -> list[str]:
    problems = []
    if len(set(setup.warehouses)) != 2:
        problems.append(f"expected two warehouses, one for loading and one for querying: {setup.warehouses}")
    loads, queries = setup.warehouses_of(setup.loader()), setup.warehouses_of(setup.analyst())
    if len(loads) != 1 or len(queries) != 1 or loads == queries:
        problems.append(f"the loader uses {sorted(loads)} and the analyst {sorted(queries)}: one each, not shared")
    if (loads | queries) - set(setup.warehouses):
        problems.append(
            f"grants on warehouses the file does not create: {sorted((loads | queries) - set(setup.warehouses))}"
        )
    for grant in setup.to(setup.analyst()):
        if grant.kind == "WAREHOUSE" and "USAGE" not in grant.privileges:
            problems.append(f"{grant.statement}: the analyst cannot run a query there")
    return problems


def allowed_locations(integration: exp.Create) -> list[str]:
    (allowed,) = (
        p.args["value"] for p in integration.args["properties"].expressions if p.name == "STORAGE_ALLOWED_LOCATIONS"
    )
    return [literal.this for literal in allowed.find_all(exp.Literal)]


def integration_problems(setup: Setup) -> list[str]:
    problems = []
    lake = f"s3://{SAMPLES['LAKE_BUCKET']}/lake/"
    for name, integration in setup.integrations.items():
        locations = allowed_locations(integration)
        if not locations:
            problems.append(f"{name} allows no location")
        for location in locations:
            if not location.startswith(lake):
                problems.append(f"{name} allows {location}, outside the lake zone {lake}")
    return problems


# ---------------------------------------------------------------- the file


def test_every_placeholder_is_documented_and_filled_in() -> None:
    documented = set(DOCUMENTED_PLACEHOLDER.findall(the_file()))
    assert documented == set(SAMPLES), "the header's placeholders and this test's samples differ"
    assert set(PLACEHOLDER.findall(the_file())) <= documented
    assert not PLACEHOLDER.search(filled_in(the_file()))


def test_every_statement_parses() -> None:
    statements, errors = parse(the_file())
    assert not errors, "statements sqlglot cannot parse:\n" + "\n".join(errors)
    assert len(statements) == len(split_statements(the_file()))
    assert not read_setup(statements).unreadable, "statements this test cannot read"


def test_two_roles_the_loader_granted_to_the_loader_user() -> None:
    setup = setup_of(the_file())
    assert len(set(setup.roles)) == 2, setup.roles
    assert setup.loader() in setup.roles
    assert setup.user_settings[SAMPLES["LOADER_USER"]]["DEFAULT_ROLE"] == setup.loader()
    assert setup.user_settings[SAMPLES["LOADER_USER"]]["DEFAULT_WAREHOUSE"] in setup.warehouses_of(setup.loader())


def test_the_analyst_reads_analytics_and_nothing_in_raw() -> None:
    setup = setup_of(the_file())
    assert analyst_problems(setup) == []
    held = {(g.kind, g.name): g.privileges for g in setup.to(setup.analyst())}
    database = SAMPLES["DATABASE"]
    assert "USAGE" in held[("DATABASE", database)]
    assert "USAGE" in held[("SCHEMA", f"{database}.{ANALYTICS}")]  # the marts grant SELECT themselves


def test_the_loader_is_no_administrator() -> None:
    setup = setup_of(the_file())
    assert loader_problems(setup) == []
    held = {(g.kind, g.name): g.privileges for g in setup.to(setup.loader())}
    database = SAMPLES["DATABASE"]
    assert {"USAGE", "CREATE TABLE", "CREATE STAGE"} <= held[("SCHEMA", f"{database}.{RAW}")]
    assert {"USAGE", "CREATE TABLE", "CREATE VIEW"} <= held[("SCHEMA", f"{database}.{ANALYTICS}")]
    (integration,) = setup.integrations
    assert "USAGE" in held[("INTEGRATION", integration)]  # ensure_stage creates RAW.LAKE with it


def test_a_warehouse_for_loading_and_another_for_querying() -> None:
    assert warehouse_problems(setup_of(the_file())) == []


def test_the_integration_reaches_the_lake_zone_only() -> None:
    setup = setup_of(the_file())
    assert len(setup.integrations) == 1
    assert integration_problems(setup) == []
    (integration,) = setup.integrations.values()
    properties = {p.name: p.args["value"] for p in integration.args["properties"].expressions}
    assert properties["STORAGE_AWS_ROLE_ARN"].this == SAMPLES["SNOWFLAKE_ROLE_ARN"]

    class Cursor:  # no stage yet: ensure_stage creates it
        def __init__(self) -> None:
            self.executed: list[str] = []

        def execute(self, sql: str) -> None:
            self.executed.append(sql)

        def fetchall(self) -> list[tuple[str, ...]]:
            return []

    cursor = Cursor()
    (name,) = setup.integrations
    ensure_stage(cursor, SAMPLES["LAKE_BUCKET"], name)
    (url,) = re.findall(r"URL = '([^']+)'", cursor.executed[-1])
    assert any(url.startswith(location) for location in allowed_locations(integration)), url


def test_the_names_the_rest_of_baton_assumes() -> None:
    """The template's defaults and the marts' grants name the roles, warehouse and integration the file creates."""
    setup = setup_of(the_file())
    parameters = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)["Parameters"]
    assert parameters["SnowflakeRole"]["Default"] == setup.loader()
    assert parameters["SnowflakeWarehouse"]["Default"] in setup.warehouses_of(setup.loader())
    assert parameters["SnowflakeStorageIntegration"]["Default"] in setup.integrations
    grants = yaml.safe_load(DBT_PROJECT.read_text())["models"]["baton"]["marts"]["+grants"]["select"]
    assert any(f"'{setup.analyst()}'" in role for role in grants), grants


# ---------------------------------------------------------------- the checks catch what they are for


@pytest.mark.parametrize(
    ("bad", "check"),
    [
        ("GRANT USAGE ON SCHEMA <DATABASE>.RAW TO ROLE {analyst}", analyst_problems),
        ("GRANT SELECT ON FUTURE TABLES IN SCHEMA <DATABASE>.RAW TO ROLE {analyst}", analyst_problems),
        ("GRANT SELECT ON ALL TABLES IN DATABASE <DATABASE> TO ROLE {analyst}", analyst_problems),
        ("GRANT SELECT ON TABLE <DATABASE>.RAW.PRICES TO ROLE {analyst}", analyst_problems),
        ('GRANT SELECT ON VIEW <DATABASE>.raw.v TO ROLE "{analyst}"', analyst_problems),
        ("GRANT INSERT ON ALL TABLES IN SCHEMA <DATABASE>.ANALYTICS TO ROLE {analyst}", analyst_problems),
        ("GRANT CREATE TABLE ON SCHEMA <DATABASE>.ANALYTICS TO ROLE {analyst}", analyst_problems),
        ("GRANT OPERATE ON WAREHOUSE {query_wh} TO ROLE {analyst}", analyst_problems),
        ("GRANT ROLE {loader} TO ROLE {analyst}", analyst_problems),
        ("GRANT OWNERSHIP ON ACCOUNT TO ROLE {loader}", loader_problems),
        ("GRANT CREATE INTEGRATION ON ACCOUNT TO ROLE {loader}", loader_problems),
        ("GRANT ROLE ACCOUNTADMIN TO ROLE {loader}", loader_problems),
        ("GRANT USAGE ON WAREHOUSE {load_wh} TO ROLE {analyst}", warehouse_problems),
        ("GRANT USAGE ON WAREHOUSE {query_wh} TO ROLE {loader}", warehouse_problems),
        ("CREATE WAREHOUSE IF NOT EXISTS BATON_THIRD_WH WAREHOUSE_SIZE = XSMALL", warehouse_problems),
        (
            "CREATE STORAGE INTEGRATION IF NOT EXISTS WIDE TYPE = EXTERNAL_STAGE STORAGE_PROVIDER = 'S3' "
            "ENABLED = TRUE STORAGE_AWS_ROLE_ARN = '<SNOWFLAKE_ROLE_ARN>' "
            "STORAGE_ALLOWED_LOCATIONS = ('s3://<LAKE_BUCKET>/lake/', 's3://<LAKE_BUCKET>/')",
            integration_problems,
        ),
    ],
)
def test_a_bad_statement_is_caught(bad: str, check: Callable[[Setup], list[str]]) -> None:
    """The file with one bad statement added (its names those the file uses) fails the check."""
    setup = setup_of(the_file())
    ((load_wh,), (query_wh,)) = setup.warehouses_of(setup.loader()), setup.warehouses_of(setup.analyst())
    names = {"analyst": setup.analyst(), "loader": setup.loader(), "load_wh": load_wh, "query_wh": query_wh}
    statement = bad.format(**names)
    assert check(setup_of(f"{the_file()}\n{statement};\n")), f"{check.__name__} missed: {statement}"


def test_a_statement_sqlglot_cannot_parse_or_this_test_cannot_read_is_reported() -> None:
    _, errors = parse(f"{the_file()}\nCREATE SCHEMA IF NOT EXISTS <DATABASE>.;\n")
    assert errors
    statements, errors = parse(f"{the_file()}\nGRANT APPLY MASKING POLICY TO ROLE SOMEONE;\n")
    assert not errors
    assert read_setup(statements).unreadable
