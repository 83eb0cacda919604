"""SQL models on Snowflake and the small dbt-like engine that compiles and runs them.

This folder is itself the SQL project (dbt_project.yml, models/, seeds/); `engine` holds the
code, `cli` the dbt-like commands. Nothing here imports Dagster: `platform_defs` wraps it.
"""

from pathlib import Path

__all__ = ["PROJECT_DIR"]

PROJECT_DIR = Path(__file__).resolve().parent
