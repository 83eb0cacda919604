"""When each dataset is extracted, in the exchange's time zone (seed 000's rules, without cron).

- Intraday bars: every 20 minutes from 06:00 to 09:40 New York time on weekdays, for the New
  York trading day under way. A tick after the chain's window closed costs no API call: the
  worker sees the finished chain and skips.
- End-of-day prices and FX: once a weekday's data is final (the vendor closes the day at
  midnight UTC), one run per weekday partition.
- Instruments (reference data): a fresh snapshot daily before the intraday ticks start.
"""

from __future__ import annotations

from datetime import UTC, timedelta

import dagster as dg

from platform_defs.automation.jobs import lineage_job
from platform_defs.datasets import EXCHANGE_TZ

__all__ = ["INTRADAY_CRON", "SCHEDULES"]

INTRADAY_CRON = "*/20 6-9 * * 1-5"
EXCHANGE_TZ_NAME = str(EXCHANGE_TZ)


@dg.schedule(
    name="intraday_prices_every_20_minutes",
    cron_schedule=INTRADAY_CRON,
    execution_timezone=EXCHANGE_TZ_NAME,
    job=lineage_job("intraday_prices"),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Intraday bars, 06:00-09:40 New York time on weekdays, every 20 minutes.",
)
def intraday_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    tick = context.scheduled_execution_time.astimezone(EXCHANGE_TZ)
    return dg.RunRequest(
        run_key=tick.isoformat(),
        partition_key=tick.date().isoformat(),
        tags={"baton/tick": tick.isoformat()},
    )


def _end_of_day(dataset_name: str) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=f"{dataset_name}_end_of_day",
        cron_schedule="0 1 * * 2-6",  # Tuesday to Saturday, an hour after each weekday has closed
        execution_timezone="UTC",
        job=lineage_job(dataset_name),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"{dataset_name} of each weekday, an hour after the vendor closes the day (midnight UTC).",
    )
    def end_of_day(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        day = (context.scheduled_execution_time.astimezone(UTC) - timedelta(days=1)).date().isoformat()
        return dg.RunRequest(run_key=day, partition_key=day)

    return end_of_day


reference_schedule = dg.ScheduleDefinition(
    name="instruments_daily",
    job=lineage_job("instruments"),
    cron_schedule="30 5 * * *",
    execution_timezone=EXCHANGE_TZ_NAME,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="A fresh instrument snapshot every day at 05:30 New York time.",
)

SCHEDULES = [intraday_schedule, _end_of_day("prices"), _end_of_day("fx_rates"), reference_schedule]
