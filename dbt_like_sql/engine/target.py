"""The target a project builds into, read from profiles.yml the way dbt reads it.

dbt_project.yml names a profile; profiles.yml (in `--profiles-dir`, else `$DBT_PROFILES_DIR`,
else the working directory, else `~/.dbt`) maps that name to outputs and a default `target:`,
and `--target` picks another output. Values may call `env_var('NAME', 'default')`; only the
chosen output is rendered, so another output's variables need not be set. Templates see
the chosen output as `target` (name, schema, database, ...). With no profiles.yml holding the
profile, the caller's own target stands (Baton passes one built from its Snowflake settings).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox

from dbt_like_sql.engine.errors import ProjectConfigError
from dbt_like_sql.engine.yaml_lines import line_of, load_yaml

__all__ = ["DEFAULT_TARGET", "PROFILES_FILE", "Target", "env_var_function", "load_target", "profiles_dirs"]

PROFILES_FILE = "profiles.yml"
_REQUIRED = ("account", "user", "database", "warehouse", "schema")
_CONNECTION_KEYS = {
    "account": "account",
    "user": "user",
    "password": "password",
    "role": "role",
    "database": "database",
    "warehouse": "warehouse",
    "schema": "schema",
    "authenticator": "authenticator",
    "private_key_path": "private_key_file",
    "private_key_passphrase": "private_key_file_pwd",
    "host": "host",
    "port": "port",
    "protocol": "protocol",
    "query_tag": "session_parameters",
}
_OTHER_KEYS = {"type", "threads", "client_session_keep_alive", "connect_retries", "connect_timeout"}


@dataclass(frozen=True)
class Target:
    """One output of a profile: where models build, and how to connect when it came from a profile."""

    name: str
    schema: str
    database: str
    type: str = "snowflake"
    profile_name: str | None = None
    threads: int = 1
    user: str | None = None
    role: str | None = None
    warehouse: str | None = None
    account: str | None = None
    connection: Mapping[str, Any] = field(default_factory=dict, repr=False)  # snowflake.connector.connect()
    path: str | None = None  # the profiles.yml it came from, None when the caller gave it

    def context(self) -> dict[str, Any]:
        """What `{{ target }}` holds in templates (dbt's fields; never the password)."""
        return {
            "name": self.name,
            "schema": self.schema,
            "database": self.database,
            "type": self.type,
            "profile_name": self.profile_name,
            "threads": self.threads,
            "user": self.user,
            "role": self.role,
            "warehouse": self.warehouse,
            "account": self.account,
        }


DEFAULT_TARGET = Target(name="default", schema="PUBLIC", database="")
"""When neither a profile nor the caller names a target: PUBLIC is the schema every Snowflake database starts with."""


def env_var_function(path: str, line: int | None = None) -> Any:
    """dbt's `env_var(name, default)`: a variable that is unset and has no default is an error."""

    def env_var(name: str, default: Any = None) -> str:
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return str(default)
        raise ProjectConfigError(f"env_var({name!r}): the variable is not set and there is no default", path, line)

    return env_var


def profiles_dirs(profiles_dir: Path | None) -> list[Path]:
    """Where profiles.yml is looked for, in dbt's order."""
    if profiles_dir is not None:
        return [profiles_dir]
    if os.environ.get("DBT_PROFILES_DIR"):
        return [Path(os.environ["DBT_PROFILES_DIR"])]
    return [Path.cwd(), Path.home() / ".dbt"]


def load_target(
    profile_name: str | None,
    default: Target,
    target_name: str | None = None,
    profiles_dir: Path | None = None,
) -> Target:
    """The output of `profile_name` in the first profiles.yml found, or `default` when there is none.

    Naming a profiles folder or a target that cannot be found is an error, not a silent default.
    """
    found = next((d / PROFILES_FILE for d in profiles_dirs(profiles_dir) if (d / PROFILES_FILE).is_file()), None)
    if found is None or profile_name is None:
        if profiles_dir is not None:
            raise ProjectConfigError(f"--profiles-dir {profiles_dir}: no {PROFILES_FILE} there")
        if target_name is not None:
            raise ProjectConfigError(f"--target {target_name}: no {PROFILES_FILE} holds the project's profile")
        return default
    shown = str(found)
    profiles = _read(found, shown)
    profile = profiles.get(profile_name)
    if profile is None:
        if profiles_dir is None and target_name is None:
            return default
        raise ProjectConfigError(f"no profile {profile_name!r} (dbt_project.yml names it)", shown)
    if not isinstance(profile, Mapping) or not isinstance(profile.get("outputs"), Mapping):
        raise ProjectConfigError(f"profile {profile_name!r} needs `outputs:`", shown, line_of(profiles, profile_name))
    outputs = profile["outputs"]
    chosen = target_name or _rendered(profile.get("target"), shown, line_of(profile, "target"))
    if not isinstance(chosen, str) or chosen not in outputs:
        known = ", ".join(sorted(outputs))
        raise ProjectConfigError(
            f"profile {profile_name!r} has no output {chosen!r}; its outputs: {known}",
            shown,
            line_of(profile, "target"),
        )
    return _target(profile_name, chosen, outputs[chosen], shown, line_of(outputs, chosen))


def _read(path: Path, shown: str) -> Mapping[str, Any]:
    document = load_yaml(path, shown, ProjectConfigError)
    if not isinstance(document, Mapping):
        raise ProjectConfigError("profiles.yml must map profile names to profiles", shown, 1)
    return document


def _rendered(value: Any, path: str, line: int | None) -> Any:
    """A profile value with its Jinja rendered (env_var()), as dbt renders only the output it uses."""
    if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
        return value
    env = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
    try:
        return env.from_string(value).render(env_var=env_var_function(path, line))
    except jinja2.TemplateError as exc:
        raise ProjectConfigError(f"cannot render {value!r}: {exc}", path, line) from exc


def _target(profile: str, name: str, output: Any, path: str, line: int | None) -> Target:
    if not isinstance(output, Mapping):
        raise ProjectConfigError(f"output {name!r} must be a mapping", path, line)
    output = {key: _rendered(value, path, line_of(output, key)) for key, value in output.items()}
    if output.get("type") != "snowflake":
        raise ProjectConfigError(
            f"output {name!r} is of type {output.get('type')!r}; this engine builds on Snowflake only", path, line
        )
    unknown = sorted(set(output) - set(_CONNECTION_KEYS) - _OTHER_KEYS)
    if unknown:
        raise ProjectConfigError(f"output {name!r}: unsupported key(s) {', '.join(unknown)}", path, line)
    missing = [key for key in _REQUIRED if not output.get(key)]
    if missing:
        raise ProjectConfigError(f"output {name!r} needs {', '.join(missing)}", path, line)
    connection = {_CONNECTION_KEYS[k]: v for k, v in output.items() if k in _CONNECTION_KEYS and k != "query_tag"}
    if output.get("query_tag"):
        connection["session_parameters"] = {"QUERY_TAG": output["query_tag"]}
    if "port" in connection:
        connection["port"] = int(connection["port"])
    return Target(
        name=name,
        schema=str(output["schema"]),
        database=str(output["database"]),
        profile_name=profile,
        threads=int(output.get("threads", 1)),
        user=str(output["user"]),
        role=str(output["role"]) if output.get("role") else None,
        warehouse=str(output["warehouse"]),
        account=str(output["account"]),
        connection=connection,
        path=path,
    )
