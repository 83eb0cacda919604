"""The Dagster instance Baton runs on: its `dagster.yaml`, written by `baton instance`, `baton dev` and `baton demo`.

The pool limits live here because they are part of how the platform treats its sources: a
30-day backfill queues behind them instead of flooding the vendor API. Nothing leaves the machine
(telemetry off), the UI opens on the asset graph instead of the "join the community" dialog
(`nux` off), and the freshness daemon runs, since the intraday table's freshness policy needs it.

Where runs, events and schedules are kept, and how runs start, come from the environment, as
the rest of Baton's settings do:
- **storage**: SQLite under the Dagster home (the embedded default), or PostgreSQL when
  `DAGSTER_PG_HOST` is set (`DAGSTER_PG_PORT`, `DAGSTER_PG_DB`, `DAGSTER_PG_USER`,
  `DAGSTER_PG_PASSWORD`). The password is never written into the file: Dagster reads it from the
  environment each time the instance starts, so the file can live in an image.
- **runs**: a subprocess per run (the default), or an ECS task per run (`dagster_aws`'s
  `EcsRunLauncher`, with run monitoring) when `BATON_RUN_TASK_DEFINITION` is set, with
  `BATON_ECS_CLUSTER`, `BATON_RUN_SUBNETS` and `BATON_RUN_SECURITY_GROUPS`. The launcher is
  given the task definition (it registers none) and the network (it does not inspect its own
  task), and secrets are the task definition's own (no Secrets Manager listing), so its role
  needs no wildcard.
- **limits**: `BATON_CHAINS_PER_SOURCE` (each vendor's pool) and `BATON_MAX_CONCURRENT_RUNS`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "CHAINS_PER_SOURCE",
    "MAX_CONCURRENT_RUNS",
    "EcsRuns",
    "InstanceConfigError",
    "PostgresStorage",
    "instance_config",
    "runs_from_environment",
    "storage_from_environment",
    "write_dagster_home",
]

CHAINS_PER_SOURCE = 4
MAX_CONCURRENT_RUNS = 8
RUN_CONTAINER = "run"
"""The container EcsRunLauncher runs `dagster api execute_run` in: infra/template.yaml names it so."""

_HEADER = "# Written by `baton` on every start: edit platform_defs/instance_config.py, not this file.\n"


class InstanceConfigError(ValueError):
    """A storage or run-launcher variable is missing or malformed; the message names it."""


@dataclass(frozen=True)
class PostgresStorage:
    """Dagster's run, event-log and schedule storage in one PostgreSQL database."""

    host: str
    port: int = 5432
    db_name: str = "dagster"
    username: str = "dagster"

    def config(self) -> dict[str, Any]:
        return {
            "postgres": {
                "postgres_db": {
                    "hostname": self.host,
                    "port": self.port,
                    "db_name": self.db_name,
                    "username": self.username,
                    "password": {"env": "DAGSTER_PG_PASSWORD"},
                    # The driver dagster-postgres installs; SQLAlchemy's default for postgresql:// is psycopg 3.
                    "scheme": "postgresql+psycopg2",
                }
            }
        }


@dataclass(frozen=True)
class EcsRuns:
    """Each run in an ECS Fargate task of the given task definition, in the given network."""

    cluster: str
    task_definition: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]

    def config(self) -> dict[str, Any]:
        network = {"subnets": list(self.subnets), "securityGroups": list(self.security_groups)}
        return {
            "module": "dagster_aws.ecs",
            "class": "EcsRunLauncher",
            "config": {
                "task_definition": self.task_definition,
                "container_name": RUN_CONTAINER,
                "secrets_tag": None,
                "use_current_ecs_task_config": False,
                "run_task_kwargs": {
                    "cluster": self.cluster,
                    "launchType": "FARGATE",
                    "networkConfiguration": {"awsvpcConfiguration": {**network, "assignPublicIp": "DISABLED"}},
                },
            },
        }


def _required(environ: Mapping[str, str], name: str, because: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise InstanceConfigError(f"{name} is not set: {because}")
    return value


def storage_from_environment(environ: Mapping[str, str]) -> PostgresStorage | None:
    """PostgreSQL when `DAGSTER_PG_HOST` is set, else None (SQLite under the Dagster home)."""
    host = environ.get("DAGSTER_PG_HOST", "").strip()
    if not host:
        return None
    _required(environ, "DAGSTER_PG_PASSWORD", "DAGSTER_PG_HOST selects PostgreSQL storage, which needs its password")
    port = environ.get("DAGSTER_PG_PORT", "5432").strip()
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InstanceConfigError(f"DAGSTER_PG_PORT={port!r} is not a port number")
    return PostgresStorage(
        host,
        int(port),
        environ.get("DAGSTER_PG_DB", "").strip() or "dagster",
        environ.get("DAGSTER_PG_USER", "").strip() or "dagster",
    )


def runs_from_environment(environ: Mapping[str, str]) -> EcsRuns | None:
    """ECS tasks when `BATON_RUN_TASK_DEFINITION` is set, else None (a subprocess per run)."""
    task_definition = environ.get("BATON_RUN_TASK_DEFINITION", "").strip()
    if not task_definition:
        return None
    because = "BATON_RUN_TASK_DEFINITION selects ECS runs, which need it"

    def listed(name: str) -> tuple[str, ...]:
        items = tuple(item.strip() for item in _required(environ, name, because).split(",") if item.strip())
        if not items:
            raise InstanceConfigError(f"{name}={environ[name]!r} names none: give one or more, comma-separated")
        return items

    return EcsRuns(
        _required(environ, "BATON_ECS_CLUSTER", because),
        task_definition,
        listed("BATON_RUN_SUBNETS"),
        listed("BATON_RUN_SECURITY_GROUPS"),
    )


def instance_config(
    chains_per_source: int = CHAINS_PER_SOURCE,
    max_concurrent_runs: int = MAX_CONCURRENT_RUNS,
    storage: PostgresStorage | None = None,
    runs: EcsRuns | None = None,
) -> dict[str, Any]:
    """The `dagster.yaml` as a mapping: quiet, freshness on, pool and run limits, storage and launcher."""
    config: dict[str, Any] = {
        "telemetry": {"enabled": False},
        "nux": {"enabled": False},
        "freshness": {"enabled": True},
        # At most `default_limit` chains per source at once (pools are named <source>_chains).
        "concurrency": {
            "pools": {"default_limit": chains_per_source},
            "runs": {"max_concurrent_runs": max_concurrent_runs},
        },
    }
    if storage is not None:
        config["storage"] = storage.config()
    if runs is not None:
        config["run_launcher"] = runs.config()
        # A run whose task died (out of memory, stopped, its image not pulled) is marked failed
        # instead of holding its run slot and its pool for good.
        config["run_monitoring"] = {"enabled": True}
    return config


def _limit(environ: Mapping[str, str], name: str, given: int | None, default: int) -> int:
    if given is not None:
        return given
    value = environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise InstanceConfigError(f"{name}={value!r} is not a whole number of at least 1")
    return int(value)


def write_dagster_home(
    path: Path,
    chains_per_source: int | None = None,
    max_concurrent_runs: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """Create `path` with Baton's `dagster.yaml`: storage, launcher and limits as `environ` (default: os.environ) says.

    Limits not given come from `BATON_CHAINS_PER_SOURCE` and `BATON_MAX_CONCURRENT_RUNS`, else
    Baton's defaults: a deployment scales them without a code change.
    """
    environ = os.environ if environ is None else environ
    config = instance_config(
        _limit(environ, "BATON_CHAINS_PER_SOURCE", chains_per_source, CHAINS_PER_SOURCE),
        _limit(environ, "BATON_MAX_CONCURRENT_RUNS", max_concurrent_runs, MAX_CONCURRENT_RUNS),
        storage_from_environment(environ),
        runs_from_environment(environ),
    )
    path.mkdir(parents=True, exist_ok=True)
    (path / "dagster.yaml").write_text(_HEADER + yaml.safe_dump(config, sort_keys=False))
    return path
