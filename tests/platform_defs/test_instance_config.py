"""The `dagster.yaml` Baton writes, read back by Dagster as `dagster dev` and the daemon read it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3
import dagster as dg
import pytest
import yaml
from dagster_aws.ecs import EcsRunLauncher

from local_stack.stack import LocalStack
from platform_defs.instance_config import (
    InstanceConfigError,
    runs_from_environment,
    storage_from_environment,
    write_dagster_home,
)

BATON = str(Path(sys.executable).parent / "baton")


def test_the_instance_is_quiet_opens_on_the_graph_and_evaluates_freshness(tmp_path: Path) -> None:
    home = write_dagster_home(tmp_path / "dagster", chains_per_source=3, max_concurrent_runs=5)
    with dg.DagsterInstance.from_config(str(home)) as instance:  # validates against Dagster's schema
        assert not instance.telemetry_enabled
        assert not instance.nux_enabled, "the UI's 'join the community' dialog would hide the asset graph"
        assert instance.freshness_enabled
        concurrency = instance.get_concurrency_config()
        assert concurrency.pool_config.default_pool_limit == 3
        assert concurrency.run_queue_config is not None
        assert concurrency.run_queue_config.max_concurrent_runs == 5


def test_postgres_storage_is_chosen_by_the_environment_and_keeps_the_password_out_of_the_file(tmp_path: Path) -> None:
    environ = {"DAGSTER_PG_HOST": "db.internal", "DAGSTER_PG_PORT": "6543", "DAGSTER_PG_PASSWORD": "s3cret"}
    config = (write_dagster_home(tmp_path / "dagster", environ=environ) / "dagster.yaml").read_text()
    storage = yaml.safe_load(config)["storage"]["postgres"]["postgres_db"]
    assert (storage["hostname"], storage["port"], storage["db_name"]) == ("db.internal", 6543, "dagster")
    assert storage["password"] == {"env": "DAGSTER_PG_PASSWORD"} and "s3cret" not in config
    sqlite = yaml.safe_load((write_dagster_home(tmp_path / "default", environ={}) / "dagster.yaml").read_text())
    assert "storage" not in sqlite and "run_launcher" not in sqlite, "SQLite and subprocess runs stay the default"


def test_a_deployment_sets_its_limits_in_the_environment(tmp_path: Path) -> None:
    environ = {"BATON_CHAINS_PER_SOURCE": "10", "BATON_MAX_CONCURRENT_RUNS": "20"}
    config = yaml.safe_load((write_dagster_home(tmp_path, environ=environ) / "dagster.yaml").read_text())
    assert config["concurrency"] == {"pools": {"default_limit": 10}, "runs": {"max_concurrent_runs": 20}}
    with pytest.raises(InstanceConfigError, match="BATON_MAX_CONCURRENT_RUNS='0' is not a whole number"):
        write_dagster_home(tmp_path, environ={"BATON_MAX_CONCURRENT_RUNS": "0"})


def test_a_storage_or_launcher_variable_missing_is_named() -> None:
    with pytest.raises(InstanceConfigError, match="DAGSTER_PG_PASSWORD is not set"):
        storage_from_environment({"DAGSTER_PG_HOST": "db.internal"})
    with pytest.raises(InstanceConfigError, match="DAGSTER_PG_PORT='x'"):
        storage_from_environment({"DAGSTER_PG_HOST": "db", "DAGSTER_PG_PASSWORD": "p", "DAGSTER_PG_PORT": "x"})
    with pytest.raises(InstanceConfigError, match="DAGSTER_PG_PORT='99999'"):
        storage_from_environment({"DAGSTER_PG_HOST": "db", "DAGSTER_PG_PASSWORD": "p", "DAGSTER_PG_PORT": "99999"})
    ecs = {"BATON_RUN_TASK_DEFINITION": "baton-run", "BATON_ECS_CLUSTER": "baton"}
    with pytest.raises(InstanceConfigError, match="BATON_RUN_SUBNETS is not set"):
        runs_from_environment(ecs)
    with pytest.raises(InstanceConfigError, match="BATON_RUN_SUBNETS=', ' names none"):
        runs_from_environment({**ecs, "BATON_RUN_SUBNETS": ", ", "BATON_RUN_SECURITY_GROUPS": "sg-1"})


def test_ecs_runs_load_dagsters_launcher_on_the_given_task_definition(local_stack: LocalStack) -> None:
    """Against the local ECS API: the launcher finds the task definition and its `run` container."""
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="baton-test")
    ecs.register_task_definition(
        family="baton-test-run",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="1024",
        memory="2048",
        containerDefinitions=[{"name": "run", "image": "baton:test"}],
    )
    environ = {
        "BATON_RUN_TASK_DEFINITION": "baton-test-run",
        "BATON_ECS_CLUSTER": "baton-test",
        "BATON_RUN_SUBNETS": "subnet-1, subnet-2",
        "BATON_RUN_SECURITY_GROUPS": "sg-1",
    }
    with tempfile.TemporaryDirectory() as folder:
        home = write_dagster_home(Path(folder), environ=environ)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert instance.run_monitoring_enabled, "a run whose task died is failed, not left holding its slot"
            launcher = instance.run_launcher
            assert isinstance(launcher, EcsRunLauncher)
            assert launcher.task_definition.endswith(":task-definition/baton-test-run:1")
            assert launcher.secrets_tags == [], "no Secrets Manager listing, so no wildcard permission"
            kwargs = launcher.run_task_kwargs
    assert kwargs["cluster"] == "baton-test" and kwargs["launchType"] == "FARGATE"
    network = kwargs["networkConfiguration"]["awsvpcConfiguration"]
    assert network == {"subnets": ["subnet-1", "subnet-2"], "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED"}


def test_baton_instance_writes_the_config_a_container_starts_with(tmp_path: Path) -> None:
    """The image's entrypoint runs `baton instance`: from its environment alone, or a clear refusal."""
    environ = {
        "PATH": os.environ["PATH"],
        "DAGSTER_HOME": str(tmp_path),
        "DAGSTER_PG_HOST": "db.internal",
        "DAGSTER_PG_PASSWORD": "s3cret",
    }
    done = subprocess.run([BATON, "instance"], env=environ, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "storage in PostgreSQL, runs in subprocesses" in done.stdout
    assert "postgres" in yaml.safe_load((tmp_path / "dagster.yaml").read_text())["storage"]
    environ["DAGSTER_PG_HOST"] = " "
    blank = subprocess.run([BATON, "instance"], env=environ, capture_output=True, text=True, timeout=60)
    assert "storage in SQLite" in blank.stdout, "it reports what it wrote"
    environ["DAGSTER_PG_HOST"] = "db.internal"
    del environ["DAGSTER_PG_PASSWORD"]
    refused = subprocess.run([BATON, "instance"], env=environ, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "DAGSTER_PG_PASSWORD is not set" in refused.stderr
