"""A dataset declared with `notify: {on_success: true}` sends an email when a run of its lineage succeeds.

For work that someone waits on (an export a back office asked for by dropping a file), the
email says it landed: which dataset and partition, how many rows reached Snowflake, and the run
in the UI. SES delivers it, as it does the failure emails.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from platform_defs.automation.jobs import lineage_job
from platform_defs.datasets import DATASETS, Dataset
from platform_defs.resources.notifier import EmailNotifier

__all__ = ["COMPLETION_SENSORS", "completion_email_sensor"]


def completion_email_sensor(datasets: Mapping[str, Dataset]) -> dg.SensorDefinition | None:
    notified = {lineage_job(d.name).name: d for d in datasets.values() if d.notify_on_success}
    if not notified:
        return None

    @dg.run_status_sensor(
        name="email_on_completion",
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[lineage_job(d.name) for d in notified.values()],
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Emails when a lineage run of {', '.join(sorted(d.name for d in notified.values()))} succeeds.",
    )
    def sensor(context: dg.RunStatusSensorContext, notifier: EmailNotifier) -> None:
        run = context.dagster_run
        dataset = notified[run.job_name]
        partition = run.tags.get("dagster/partition")
        rows = _warehouse_rows(context.instance, run.run_id, dataset)
        subject = f"[baton] {dataset.name} loaded" + (f" [{partition}]" if partition else "")
        lines = [
            f"Dataset: {dataset.name} ({dataset.description})",
            f"Partition: {partition or '-'}",
            f"Rows in {dataset.table}: {rows if rows is not None else 'not reported'}",
            f"Run: {run.run_id} ({notifier.ui_url}/runs/{run.run_id})",
        ]
        message_id = notifier.send(subject, "\n".join(lines))
        context.log.info(f"completion email {message_id} sent to {', '.join(notifier.recipients)} for {run.run_id}")

    return sensor


def _warehouse_rows(instance: dg.DagsterInstance, run_id: str, dataset: Dataset) -> int | None:
    """The partition's row count the warehouse step reported in this run."""
    key = dg.AssetKey(["warehouse", "raw", dataset.name])
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        materialization = record.asset_materialization
        if materialization is not None and materialization.asset_key == key:
            count = materialization.metadata.get("dagster/row_count")
            return int(count.value) if count is not None else None
    return None


COMPLETION_SENSORS = [s for s in (completion_email_sensor(DATASETS),) if s is not None]
