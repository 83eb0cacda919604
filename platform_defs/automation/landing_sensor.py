"""Seed 001's S3 trigger, as a sensor: a new file in the feed landing prefix starts the feed's lineage.

The cursor is the last landing key seen, the same position the feed's chain keeps: feed files
are named so that key order is arrival order, and `StartAfter` lists only what is newer. (dagster-aws's
`get_objects` orders by LastModified, whose one-second resolution can misorder files that land together,
and fails when the remembered key has been archived away.) One run takes every new file; its run
key is the newest file, so a file is never picked up twice.
"""

from __future__ import annotations

import dagster as dg

from platform_defs.automation.jobs import lineage_job
from platform_defs.datasets import LANDING_CORPORATE_ACTIONS
from platform_defs.resources.lake import Lake

__all__ = ["corporate_actions_feed_sensor"]


@dg.sensor(
    name="corporate_actions_feed_files",
    job=lineage_job("corporate_actions"),
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=f"A new file under s3://<lake>/{LANDING_CORPORATE_ACTIONS} runs the corporate actions lineage.",
)
def corporate_actions_feed_sensor(context: dg.SensorEvaluationContext, lake: Lake) -> dg.SensorResult:
    new_keys: list[str] = []
    paginator = lake.client().get_paginator("list_objects_v2")
    pages = paginator.paginate(Bucket=lake.bucket, Prefix=LANDING_CORPORATE_ACTIONS, StartAfter=context.cursor or "")
    for page in pages:
        new_keys += [obj["Key"] for obj in page.get("Contents", []) if not obj["Key"].endswith("/")]
    if not new_keys:
        return dg.SensorResult(skip_reason=f"no new file under s3://{lake.bucket}/{LANDING_CORPORATE_ACTIONS}")
    newest = new_keys[-1]
    context.log.info(f"{len(new_keys)} new feed file(s): {', '.join(new_keys)}")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=newest, tags={"baton/feed_files": str(len(new_keys)), "baton/newest": newest})
        ],
        cursor=newest,
    )
