"""One sensor per dataset whose declaration has a landing trigger: `<dataset>_landing_files`.

A new file under the dataset's S3 landing prefix starts its lineage. The cursor is the last
landing key seen: feed files are named so that key order is arrival order, and `StartAfter`
lists only what is newer. (dagster-aws's `get_objects` orders by LastModified, whose one-second
resolution can misorder files that land together, and fails when the remembered key has been
archived away.) A file is never picked up twice: for a feed (partitioning none or snapshot) one
run takes every new file, its run key the newest file; for a dataset partitioned by landed file
each new file becomes a partition (named by the file, without its extensions) and gets a run of
its own, its run key the file.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from platform_defs.automation.jobs import lineage_job
from platform_defs.datasets import DATASETS, Dataset
from platform_defs.resources.lake import Lake

__all__ = ["LANDING_SENSORS", "landed_partition", "landing_sensor", "landing_sensors_for"]


def landing_sensor(dataset: Dataset) -> dg.SensorDefinition:
    prefix = dataset.trigger.prefix
    assert prefix is not None

    @dg.sensor(
        name=f"{dataset.name}_landing_files",
        job=lineage_job(dataset.name),
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=dataset.trigger.description or f"A new file under s3://<lake>/{prefix} runs {dataset.name}.",
    )
    def sensor(context: dg.SensorEvaluationContext, lake: Lake) -> dg.SensorResult:
        new_keys: list[str] = []
        paginator = lake.client().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=lake.bucket, Prefix=prefix, StartAfter=context.cursor or ""):
            new_keys += [obj["Key"] for obj in page.get("Contents", []) if not obj["Key"].endswith("/")]
        if not new_keys:
            return dg.SensorResult(skip_reason=f"no new file under s3://{lake.bucket}/{prefix}")
        newest = new_keys[-1]
        context.log.info(f"{len(new_keys)} new file(s) for {dataset.name}: {', '.join(new_keys)}")
        if isinstance(dataset.partitions, dg.DynamicPartitionsDefinition):
            partitions = {key: landed_partition(key) for key in new_keys}
            return dg.SensorResult(
                run_requests=[
                    dg.RunRequest(run_key=key, partition_key=partition, tags={"baton/landed_file": key})
                    for key, partition in partitions.items()
                ],
                dynamic_partitions_requests=[dataset.partitions.build_add_request(list(partitions.values()))],
                cursor=newest,
            )
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(run_key=newest, tags={"baton/landed_files": str(len(new_keys)), "baton/newest": newest})
            ],
            cursor=newest,
        )

    return sensor


def landed_partition(key: str) -> str:
    """The partition a landed file starts: its name without folder or extensions (`2025-06-02.json`: `2025-06-02`)."""
    name = key.rsplit("/", 1)[-1]
    return name.split(".", 1)[0] or name


def landing_sensors_for(datasets: Mapping[str, Dataset]) -> list[dg.SensorDefinition]:
    return [landing_sensor(d) for d in datasets.values() if d.trigger.kind == "landing"]


LANDING_SENSORS = landing_sensors_for(DATASETS)
