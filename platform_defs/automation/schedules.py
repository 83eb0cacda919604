"""One schedule per dataset whose declaration has a cron trigger: `<dataset>_schedule`.

A tick runs the dataset's lineage for one partition (`Partitioning.partition_at`): for a weekday
or daily dataset the day that last closed (a tick at 01:00 UTC on Saturday loads Friday), for an
intraday dataset the day under way (a tick at 07:20 New York time loads today, and a tick after
the window closed costs no API call: the worker sees the finished chain and skips). A snapshot
or unpartitioned dataset takes no partition. The cron's fields carry the
window of the day and the weekdays (`*/20 6-9 * * 1-5`), in the trigger's time zone.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from platform_defs.automation.jobs import lineage_job
from platform_defs.datasets import DATASETS, Dataset

__all__ = ["SCHEDULES", "dataset_schedule", "schedules_for"]


def dataset_schedule(dataset: Dataset) -> dg.ScheduleDefinition:
    trigger = dataset.trigger
    assert trigger.cron is not None

    @dg.schedule(
        name=f"{dataset.name}_schedule",
        cron_schedule=trigger.cron,
        execution_timezone=trigger.timezone,
        job=lineage_job(dataset.name),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=trigger.description or f"{dataset.name}'s lineage at {trigger.cron} ({trigger.timezone}).",
    )
    def schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        tick = context.scheduled_execution_time
        if dataset.partitions is None:
            return dg.RunRequest(run_key=tick.isoformat(), tags={"baton/tick": tick.isoformat()})
        partition = dataset.partitioning.partition_at(tick)
        if partition is None:
            return dg.SkipReason(f"{dataset.name} has no partition yet at {tick.isoformat()}")
        return dg.RunRequest(run_key=tick.isoformat(), partition_key=partition, tags={"baton/tick": tick.isoformat()})

    return schedule


def schedules_for(datasets: Mapping[str, Dataset]) -> list[dg.ScheduleDefinition]:
    return [dataset_schedule(d) for d in datasets.values() if d.trigger.kind == "schedule"]


SCHEDULES = schedules_for(DATASETS)
