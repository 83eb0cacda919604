"""The export-job lineage, end to end: a file lands, the sensor starts the job, a chain polls it, Snowflake, email.

Through the real landing sensor, the local Lambda service, the vendor's job API, S3, SSM,
Snowflake and SES. The vendor's job runs 10 s and links hand on after 4 s, so on any machine
the chain polls across several links before the result is loaded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
import dagster as dg
import pytest

from local_stack.stack import LocalStack
from platform_defs.automation.completion_alerts import COMPLETION_SENSORS
from platform_defs.automation.landing_sensor import LANDING_SENSORS
from platform_defs.chain_clients import lambda_client
from platform_defs.deploy import deploy_chain_function
from platform_defs.resources.build import build_resources
from platform_defs.settings import load_settings
from tests.platform_defs.test_automation import sent_emails
from tests.vendor_admin import vendor_admin

DAY = "2025-06-02"
JOB_SECONDS = 10
LINK_SECONDS = 4
MEMBERS = 50 + 30 + 25 + 100  # BTN-US50, BTN-EU30, BTN-JP25, BTN-GL100


@pytest.fixture
def slow_jobs(local_stack: LocalStack) -> Iterator[None]:
    vendor_admin(local_stack, "/admin/config", {"job_seconds": JOB_SECONDS})
    yield
    vendor_admin(local_stack, "/admin/config", {"job_seconds": 20.0})


def test_a_landed_request_runs_the_export_job_across_links_into_snowflake_and_emails(
    local_stack: LocalStack, slow_jobs: None
) -> None:
    settings = load_settings()
    deploy_chain_function(lambda_client(settings.aws), settings.chains.function_name, settings.chains.role_arn)
    from platform_defs.definitions import defs

    resources = build_resources(settings)
    s3 = boto3.client("s3")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=settings.lake_bucket)
    key = f"landing/index_requests/{DAY}.json"
    s3.put_object(Bucket=settings.lake_bucket, Key=key, Body=b'{"requested_by": "back office"}')
    sensor = next(s for s in LANDING_SENSORS if s.name == "index_constituents_landing_files")

    with dg.DagsterInstance.ephemeral() as instance:
        with dg.build_sensor_context(instance=instance, resources={"lake": resources["lake"]}) as context:
            result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        requests = [(r.run_key, r.partition_key) for r in result.run_requests or []]
        assert requests == [(key, DAY)], "one run per landed file, its partition named by the file"
        added = result.dynamic_partitions_requests or []
        assert [(r.partitions_def_name, list(r.partition_keys or [])) for r in added] == [
            ("index_constituents_files", [DAY])
        ]
        instance.add_dynamic_partitions("index_constituents_files", [DAY])

        config = {"ops": {"raw__index_constituents": {"config": {"link_seconds": LINK_SECONDS}}}}
        run = defs.resolve_job_def("index_constituents_lineage").execute_in_process(
            instance=instance, partition_key=DAY, run_config=config, tags={"baton/landed_file": key}
        )
        assert run.success
        links = [
            e.asset_observation_data.asset_observation.metadata["links"].value
            for e in run.all_events
            if e.event_type == dg.DagsterEventType.ASSET_OBSERVATION
        ]
        assert len(links) >= JOB_SECONDS // LINK_SECONDS, f"the chain polled the job across links: {links}"
        warehouse = run.asset_materializations_for_node("warehouse__raw__index_constituents")[0].metadata
        assert warehouse["dagster/row_count"].value == MEMBERS

        with resources["snowflake"].get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*), COUNT(DISTINCT INDEX_CODE), MIN(AS_OF), MAX(AS_OF) "
                "FROM RAW.INDEX_CONSTITUENTS WHERE _PARTITION = %s",
                (DAY,),
            )
            counted = cursor.fetchone()
        assert counted is not None and (counted[0], counted[1], str(counted[2]), str(counted[3])) == (
            MEMBERS,
            4,
            DAY,
            DAY,
        )

        before = {m["id"] for m in sent_emails()}
        success = next(e for e in run.all_events if e.event_type == dg.DagsterEventType.RUN_SUCCESS)
        dagster_run = instance.get_run_by_id(run.run_id)
        assert dagster_run is not None
        completion = dg.build_run_status_sensor_context(
            sensor_name="email_on_completion",
            dagster_event=success,
            dagster_instance=instance,
            dagster_run=dagster_run,
            resources={"notifier": resources["notifier"]},
        )
        COMPLETION_SENSORS[0](completion)
    emails: list[dict[str, Any]] = [m for m in sent_emails() if m["id"] not in before]
    assert [m["subject"] for m in emails] == [f"[baton] index_constituents loaded [{DAY}]"]
    assert f"Rows in RAW.INDEX_CONSTITUENTS: {MEMBERS}" in emails[0]["body"]
    assert f"/runs/{run.run_id}" in emails[0]["body"]
