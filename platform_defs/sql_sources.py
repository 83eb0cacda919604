"""The SQL project's RAW sources, derived from the dataset catalogue rather than typed again.

Each declared dataset is the source table `raw.<dataset>` (schema RAW), with its description
and columns, and meta the marts can read generically (`graph.sources`): the columns a row must
have and the column its business date is in. An error in a model that reads one points at the
declaration file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from dbt_like_sql import PROJECT_DIR
from dbt_like_sql.engine import ColumnDoc, Project, SourceDeclaration, Target, load_project
from platform_defs.datasets import DATASETS, Dataset
from platform_defs.settings import Settings

__all__ = ["DEFAULT_SCHEMA", "RAW_SOURCE", "catalogue_sources", "platform_project", "platform_target"]

DEFAULT_SCHEMA = "PUBLIC"  # where a model with no schema configured builds: every Snowflake database has it

RAW_SOURCE = "raw"


def catalogue_sources(datasets: Mapping[str, Dataset]) -> list[SourceDeclaration]:
    return [
        SourceDeclaration(
            source_name=RAW_SOURCE,
            name=dataset.name,
            schema="RAW",
            identifier=dataset.name,
            database=None,
            description=dataset.description,
            columns=tuple(ColumnDoc(column.name, column.description) for column in dataset.columns),
            meta={
                "required_columns": [column.name for column in dataset.columns if column.required],
                "business_date": dataset.business_date,
                "key": list(dataset.key),
                "declared_in": dataset.path,
            },
            path=dataset.path,
            line=1,
        )
        for dataset in sorted(datasets.values(), key=lambda d: d.name)
    ]


def platform_target(settings: Settings) -> Target:
    """The target the platform's Snowflake settings describe, named after the environment (local, aws)."""
    snowflake = settings.snowflake
    return Target(
        name=settings.env,
        schema=DEFAULT_SCHEMA,
        database=snowflake.database,
        user=snowflake.user,
        role=snowflake.role,
        warehouse=snowflake.warehouse,
        account=snowflake.account,
    )


def platform_project(project_dir: Path | None = None, target: Target | None = None) -> Project:
    """The SQL project (default: Baton's own, dbt_like_sql/) with the catalogue's RAW tables as sources.

    `target`: the platform's (`platform_target`); without one, the engine's default, which is
    enough to read the project (Baton's own names every schema it builds in).
    """
    return load_project(project_dir or PROJECT_DIR, catalogue_sources(DATASETS), target)
