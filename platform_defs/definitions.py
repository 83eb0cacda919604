"""The one `Definitions` of Baton's code location.

Settings are resolved when this module loads (`load_settings`), so a wrong environment fails
the code location at once, with a message naming the variable, instead of a run later on.
"""

from __future__ import annotations

import dagster as dg

from platform_defs.assets import dataset_assets
from platform_defs.assets.sql_models import SQL_GROUPS, sql_model_assets
from platform_defs.automation import JOBS, SCHEDULES, SENSORS, SQL_MODELS_JOB
from platform_defs.chain_health import chain_health_checks
from platform_defs.datasets import DATASETS
from platform_defs.resources import build_resources
from platform_defs.settings import load_settings
from platform_defs.sql_sources import platform_target

settings = load_settings()

assets = [
    *(a for dataset in DATASETS.values() for a in dataset_assets(dataset, settings.storage_integration)),
    *sql_model_assets(target=platform_target(settings)),
]

# Declarative automation: the SQL models refresh when the warehouse tables they read are loaded.
sql_models_automation = dg.AutomationConditionSensorDefinition(
    "sql_models_automation",
    target=dg.AssetSelection.groups(*SQL_GROUPS),
    default_status=dg.DefaultSensorStatus.RUNNING,
)

defs = dg.Definitions(
    assets=assets,
    asset_checks=chain_health_checks(),
    jobs=[*JOBS.values(), SQL_MODELS_JOB],
    schedules=SCHEDULES,
    sensors=[*SENSORS, sql_models_automation],
    resources=build_resources(settings),
)
