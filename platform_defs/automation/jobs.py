"""One job per dataset: its raw extraction, lake build and warehouse load, in lineage order.

Schedules and sensors launch these; a job spans exactly one partitions definition, so a
schedule's run request names one partition of one dataset. One more job builds the SQL models,
so a rebuild launched by hand (or by `baton demo`) is a named run rather than an ad hoc one.
"""

from __future__ import annotations

import dagster as dg

from platform_defs.assets.sql_models import SQL_GROUPS
from platform_defs.datasets import DATASETS, Dataset

__all__ = ["JOBS", "SQL_MODELS_JOB", "lineage_job", "lineage_keys"]


def lineage_keys(dataset: Dataset) -> list[dg.AssetKey]:
    return [
        dg.AssetKey(["raw", dataset.name]),
        dg.AssetKey(["lake", dataset.name]),
        dg.AssetKey(["warehouse", "raw", dataset.name]),
    ]


def _job(dataset: Dataset) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        f"{dataset.name}_lineage",
        selection=dg.AssetSelection.assets(*lineage_keys(dataset)),
        description=f"raw -> lake -> warehouse for {dataset.name}.",
        # The three steps run one after the other anyway: one process per run instead of one per
        # step keeps a 30-partition backfill from spending its time importing the code location.
        executor_def=dg.in_process_executor,
    )


JOBS: dict[str, dg.UnresolvedAssetJobDefinition] = {name: _job(dataset) for name, dataset in DATASETS.items()}


def lineage_job(dataset_name: str) -> dg.UnresolvedAssetJobDefinition:
    return JOBS[dataset_name]


SQL_MODELS_JOB = dg.define_asset_job(
    "sql_models",
    selection=dg.AssetSelection.groups(*SQL_GROUPS),
    description="Every seed, snapshot and SQL model, with its tests, in dependency order (like `baton sql build`).",
)
