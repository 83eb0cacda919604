"""Schedules, the feed sensor and failure alerts, evaluated as the Dagster daemon evaluates them."""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import dagster as dg
import pytest
from dagster._utils.schedules import cron_string_iterator
from dagster_aws.s3 import S3Resource

from local_stack.stack import LocalStack
from platform_defs.automation.failure_alerts import failure_email_sensor
from platform_defs.automation.landing_sensor import LANDING_SENSORS
from platform_defs.automation.schedules import SCHEDULES
from platform_defs.datasets import DATASETS
from platform_defs.resources.build import build_resources
from platform_defs.resources.lake import LocalLake
from platform_defs.settings import load_settings

NEW_YORK = ZoneInfo("America/New_York")
LANDING_CORPORATE_ACTIONS = DATASETS["corporate_actions"].trigger.prefix or ""


def schedule(name: str) -> dg.ScheduleDefinition:
    return next(s for s in SCHEDULES if s.name == name)


def ticks(definition: dg.ScheduleDefinition, start: datetime, end: datetime) -> list[datetime]:
    """The tick times the daemon would fire in [start, end), from the schedule's own cron and zone."""
    found = []
    for tick in cron_string_iterator(start.timestamp(), definition.cron_schedule, definition.execution_timezone):
        if tick >= end:
            return found
        if tick >= start:
            found.append(tick)
    return found


def evaluate(definition: dg.ScheduleDefinition, tick: datetime) -> dg.RunRequest:
    with dg.build_schedule_context(scheduled_execution_time=tick) as context:
        request = definition(context)
    assert isinstance(request, dg.RunRequest)
    return request


@pytest.mark.parametrize("day", ["2025-01-15", "2025-07-15", "2025-03-10"])  # winter, summer, the Monday after DST
def test_intraday_ticks_every_20_minutes_from_6_to_9_40_new_york_time(day: str) -> None:
    definition = schedule("intraday_prices_schedule")
    start = datetime.fromisoformat(f"{day}T00:00:00").replace(tzinfo=NEW_YORK)
    end = datetime.fromisoformat(f"{day}T23:59:59").replace(tzinfo=NEW_YORK)
    fired = ticks(definition, start, end)
    local = [tick.astimezone(NEW_YORK).strftime("%H:%M") for tick in fired]
    expected = [f"{hour:02d}:{minute:02d}" for hour in range(6, 10) for minute in (0, 20, 40)]
    assert local == expected
    requests = [evaluate(definition, tick) for tick in fired]
    assert {r.partition_key for r in requests} == {day}, "every tick targets the New York trading day"
    assert len({r.run_key for r in requests}) == len(requests)


def test_intraday_schedule_is_quiet_at_the_weekend() -> None:
    definition = schedule("intraday_prices_schedule")
    saturday = datetime(2025, 6, 7, tzinfo=NEW_YORK)
    assert ticks(definition, saturday, saturday.replace(day=9)) == []


@pytest.mark.parametrize("dataset", ["prices", "fx_rates"])
def test_end_of_day_runs_each_weekday_once_after_it_closed(dataset: str) -> None:
    definition = schedule(f"{dataset}_schedule")
    monday = datetime(2025, 6, 2, tzinfo=UTC)
    fired = ticks(definition, monday, datetime(2025, 6, 9, tzinfo=UTC))
    partitions = [evaluate(definition, tick).partition_key for tick in fired]
    assert partitions == ["2025-06-02", "2025-06-03", "2025-06-04", "2025-06-05", "2025-06-06"]
    for tick, partition in zip(fired, partitions, strict=True):
        assert tick.astimezone(UTC) > datetime.fromisoformat(f"{partition}T23:59:59+00:00")


def test_reference_data_runs_daily() -> None:
    definition = schedule("instruments_schedule")
    monday = datetime(2025, 6, 2, tzinfo=NEW_YORK)
    assert len(ticks(definition, monday, monday.replace(day=9))) == 7


@pytest.fixture
def landing_lake(local_stack: LocalStack) -> LocalLake:
    settings = load_settings()
    s3 = S3Resource(region_name=settings.aws.region)
    lake = LocalLake(bucket=f"landing-{uuid.uuid4().hex[:10]}", s3=s3)
    lake.client().create_bucket(Bucket=lake.bucket)
    return lake


def tick_feed_sensor(lake: LocalLake, cursor: str | None) -> dg.SensorResult:
    with dg.build_sensor_context(cursor=cursor, resources={"lake": lake}) as context:
        sensor = next(s for s in LANDING_SENSORS if s.name == "corporate_actions_landing_files")
        result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_feed_sensor_picks_each_new_file_up_once(landing_lake: LocalLake) -> None:
    def drop(name: str) -> None:
        landing_lake.client().put_object(Bucket=landing_lake.bucket, Key=LANDING_CORPORATE_ACTIONS + name, Body=b"x")

    first = tick_feed_sensor(landing_lake, None)
    assert not first.run_requests and first.skip_reason is not None
    drop("2025-06-02.csv")
    drop("2025-06-03.csv")
    second = tick_feed_sensor(landing_lake, None)
    assert [r.run_key for r in second.run_requests or []] == [LANDING_CORPORATE_ACTIONS + "2025-06-03.csv"]
    assert second.cursor == LANDING_CORPORATE_ACTIONS + "2025-06-03.csv"
    again = tick_feed_sensor(landing_lake, second.cursor)
    assert not again.run_requests, "files already seen start nothing"
    drop("2025-06-04.csv")
    third = tick_feed_sensor(landing_lake, second.cursor)
    assert [r.run_key for r in third.run_requests or []] == [LANDING_CORPORATE_ACTIONS + "2025-06-04.csv"]
    assert third.run_requests[0].tags["baton/landed_files"] == "1"


def sent_emails() -> list[dict[str, Any]]:
    """What moto's SES has accepted, from moto's own inspection endpoint."""
    with urllib.request.urlopen(os.environ["AWS_ENDPOINT_URL"] + "/moto-api/data.json", timeout=10) as response:
        return list(json.load(response).get("ses", {}).get("Message", []))


def test_a_failed_run_sends_an_email_naming_the_job_the_step_and_the_error(local_stack: LocalStack) -> None:
    @dg.op
    def load_positions() -> None:
        raise ValueError("positions file s3://lake/landing/positions.csv has no header row")

    @dg.job
    def positions_job() -> None:
        load_positions()

    notifier = build_resources(load_settings())["notifier"]
    with dg.DagsterInstance.ephemeral() as instance:
        result = positions_job.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
        run = instance.get_run_by_id(result.run_id)
        assert run is not None
        before = {m["id"] for m in sent_emails()}
        context = dg.build_run_status_sensor_context(
            sensor_name="email_on_run_failure",
            dagster_event=failure,
            dagster_instance=instance,
            dagster_run=run,
            resources={"notifier": notifier},
        )
        failure_email_sensor(context.for_run_failure())
    new = [m for m in sent_emails() if m["id"] not in before]
    assert len(new) == 1
    message = new[0]
    assert message["source"] == load_settings().alerts.sender
    assert message["destinations"]["ToAddresses"] == list(load_settings().alerts.recipients)
    assert message["subject"] == "[baton] run failed: positions_job"
    assert "load_positions" in message["body"] and "has no header row" in message["body"]
    assert f"/runs/{result.run_id}" in message["body"]
    assert boto3.client("ses").get_send_quota()["SentLast24Hours"] >= 1
