"""`baton run <dataset>`: the dataset's lineage job, run in this process on the instance `DAGSTER_HOME` names.

The same job the dataset's schedule or sensor launches (raw -> lake -> warehouse), so the run,
its chain metadata and its checks show in the UI afterwards; the chain's per-link progress
lines print as they come. Without `--partition`, a partitioned dataset runs the partition its
schedule would run now (the day under way for intraday data, the day that last closed otherwise).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

from lambda_workers.chain.status import ChainMode
from platform_defs.automation.jobs import lineage_job
from platform_defs.datasets import DATASETS

__all__ = ["DatasetRun", "RunError", "run_dataset"]


class RunError(ValueError):
    """The run cannot start: an unknown dataset or partition, or no Dagster instance."""


@dataclass(frozen=True)
class DatasetRun:
    run_id: str
    success: bool
    partition: str | None
    rows: dict[str, int]  # row counts of the materialised assets, by asset key
    failure: str | None


def run_dataset(
    defs: dg.Definitions,
    name: str,
    partition: str | None = None,
    full_refresh: bool = False,
    mode: ChainMode = ChainMode.DRIVEN,
) -> DatasetRun:
    dataset = DATASETS.get(name)
    if dataset is None:
        raise RunError(f"there is no dataset {name!r}; the datasets are: {', '.join(sorted(DATASETS))}")
    if dataset.partitions is None:
        if partition is not None:
            raise RunError(f"{name} is not partitioned ({dataset.partitioning.kind}): drop --partition")
    else:
        partition = partition or dataset.partitioning.partition_at(datetime.now(UTC))
        if partition is None or not dataset.partitions.has_partition_key(partition):
            raise RunError(f"{partition!r} is not a partition of {name} ({dataset.partitioning.kind} partitions)")
    if not os.environ.get("DAGSTER_HOME"):
        raise RunError('DAGSTER_HOME is not set: the local stack exports it (eval "$(baton stack env)")')
    raw_op = f"raw__{name}"
    result = defs.resolve_job_def(lineage_job(name).name).execute_in_process(
        instance=dg.DagsterInstance.get(),
        partition_key=partition,
        run_config={"ops": {raw_op: {"config": {"full_refresh": full_refresh, "mode": str(mode)}}}},
        raise_on_error=False,
    )
    rows = {
        event.asset_key.to_user_string(): int(count.value)
        for event in result.get_asset_materialization_events()
        if event.asset_key is not None
        and (count := event.materialization.metadata.get("dagster/row_count")) is not None
    }
    failure = None
    if not result.success:
        failures = [event for event in result.all_events if event.is_step_failure]
        failure = (
            "; ".join(
                str(event.step_failure_data.error.message).strip()
                for event in failures
                if event.step_failure_data.error
            )
            or "the run failed"
        )
    return DatasetRun(result.run_id, result.success, partition, rows, failure)
