"""The engine: load a project, render and check its models, build them and run their tests.

It works on a DB-API connection to Snowflake and knows nothing of Dagster; `platform_defs`
wraps it into assets, `dbt_like_sql.cli` into commands.
"""

from dbt_like_sql.engine.adapter import SnowflakeAdapter
from dbt_like_sql.engine.data_tests import compile_test, run_test
from dbt_like_sql.engine.errors import (
    CycleError,
    ModelExecutionError,
    ProjectConfigError,
    SchemaFileError,
    SeedError,
    SelectionError,
    SqlProjectError,
    SqlSyntaxError,
    TemplateError,
    UndeclaredTableError,
    UnknownRefError,
    UnknownSourceError,
    WarehouseError,
)
from dbt_like_sql.engine.loader import load_project
from dbt_like_sql.engine.materializations import build_model
from dbt_like_sql.engine.nodes import ColumnDoc, DataTest, Model, ModelConfig, Seed, SourceTable
from dbt_like_sql.engine.project import Project
from dbt_like_sql.engine.quoting import Relation
from dbt_like_sql.engine.results import BuildResult, DataTestResult
from dbt_like_sql.engine.runner import COMMANDS, StepOutcome, plan, run_project
from dbt_like_sql.engine.schema_files import SourceDeclaration
from dbt_like_sql.engine.seeds import load_seed, read_seed
from dbt_like_sql.engine.selection import select
from dbt_like_sql.engine.snapshots import Snapshot, run_snapshot
from dbt_like_sql.engine.target import Target

__all__ = [
    "COMMANDS",
    "BuildResult",
    "ColumnDoc",
    "CycleError",
    "DataTest",
    "DataTestResult",
    "Model",
    "ModelConfig",
    "ModelExecutionError",
    "Project",
    "ProjectConfigError",
    "Relation",
    "SchemaFileError",
    "Seed",
    "SeedError",
    "SelectionError",
    "Snapshot",
    "SnowflakeAdapter",
    "SourceDeclaration",
    "SourceTable",
    "SqlProjectError",
    "SqlSyntaxError",
    "StepOutcome",
    "Target",
    "TemplateError",
    "UndeclaredTableError",
    "UnknownRefError",
    "UnknownSourceError",
    "WarehouseError",
    "build_model",
    "compile_test",
    "load_project",
    "load_seed",
    "plan",
    "read_seed",
    "run_project",
    "run_snapshot",
    "run_test",
    "select",
]
