"""dbt_project.yml: the project's name, folders, vars and folder-level configs.

Configs nest as in dbt: under `models:` (or `seeds:`), a `+key` (or a known key without `+`)
sets a config for everything below; other keys name the project, then folders, then files.
The schema set at the top (`models: +schema: ANALYTICS`) is the project's default schema. Unlike
dbt's default `generate_schema_name`, a configured schema is used as it is, not appended to a
target schema: Baton has no per-developer targets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbt_like_sql.engine.errors import ProjectConfigError
from dbt_like_sql.engine.yaml_lines import line_of, load_yaml

__all__ = ["MODEL_CONFIG_KEYS", "PROJECT_FILE", "SEED_CONFIG_KEYS", "ProjectFile", "load_project_file"]

PROJECT_FILE = "dbt_project.yml"
MODEL_CONFIG_KEYS = ("materialized", "schema", "unique_key", "enabled")
SEED_CONFIG_KEYS = ("schema", "column_types", "enabled")
_USED_KEYS = {"name", "model-paths", "seed-paths", "vars", "models", "seeds"}
_IGNORED_KEYS = {
    "version",
    "config-version",
    "profile",
    "analysis-paths",
    "test-paths",
    "macro-paths",
    "snapshot-paths",
    "docs-paths",
    "asset-paths",
    "target-path",
    "clean-targets",
    "require-dbt-version",
    "packages-install-path",
}


@dataclass(frozen=True)
class ProjectFile:
    name: str
    model_paths: tuple[str, ...]
    seed_paths: tuple[str, ...]
    vars: Mapping[str, Any]
    models: Mapping[str, Any]
    seeds: Mapping[str, Any]

    def model_config(self, folders: Sequence[str], name: str) -> dict[str, Any]:
        """The configs that apply to a model in `folders` (relative to its model path)."""
        return _resolve(self.models, [self.name, *folders, name], MODEL_CONFIG_KEYS, "models")

    def seed_config(self, folders: Sequence[str], name: str) -> dict[str, Any]:
        return _resolve(self.seeds, [self.name, *folders, name], SEED_CONFIG_KEYS, "seeds")

    @property
    def default_schema(self) -> str | None:
        """The schema configured at the top of `models:` (or under the project's name)."""
        return _resolve(self.models, [self.name], MODEL_CONFIG_KEYS, "models").get("schema")


def load_project_file(project_dir: Path) -> ProjectFile:
    path = project_dir / PROJECT_FILE
    if not path.is_file():
        raise ProjectConfigError(f"no {PROJECT_FILE} in {project_dir}: is this a SQL project folder?")
    document = load_yaml(path, PROJECT_FILE, ProjectConfigError)
    if not isinstance(document, Mapping):
        raise ProjectConfigError("the file must hold a mapping (name:, models:, ...)", PROJECT_FILE)
    unknown = sorted(set(document) - _USED_KEYS - _IGNORED_KEYS)
    if unknown:
        raise ProjectConfigError(
            f"unsupported key(s) {', '.join(unknown)}; supported: {', '.join(sorted(_USED_KEYS))}",
            PROJECT_FILE,
            line_of(document, unknown[0]),
        )
    name = document.get("name")
    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        raise ProjectConfigError("`name` must be the project's name (letters, digits, _)", PROJECT_FILE, 1)
    for key in ("vars", "models", "seeds"):
        if not isinstance(document.get(key) or {}, Mapping):
            raise ProjectConfigError(f"`{key}` must be a mapping", PROJECT_FILE, line_of(document, key))
    for section, known in (("models", MODEL_CONFIG_KEYS), ("seeds", SEED_CONFIG_KEYS)):
        tree = document.get(section) or {}
        for key, value in tree.items():
            if not _is_config(key, value, known) and key != name:
                raise ProjectConfigError(
                    f"{section}.{key}: configs below `{section}:` go under the project's name ({name!r})",
                    PROJECT_FILE,
                    line_of(tree, key),
                )
    return ProjectFile(
        name=name,
        model_paths=_paths(document, "model-paths", "models"),
        seed_paths=_paths(document, "seed-paths", "seeds"),
        vars=dict(document.get("vars") or {}),
        models=document.get("models") or {},
        seeds=document.get("seeds") or {},
    )


def _paths(document: Mapping[str, Any], key: str, default: str) -> tuple[str, ...]:
    value = document.get(key, [default])
    if not isinstance(value, list) or not all(isinstance(v, str) and v and ".." not in v for v in value):
        raise ProjectConfigError(
            f"`{key}` must be a list of folders inside the project", PROJECT_FILE, line_of(document, key)
        )
    return tuple(value)


def _resolve(tree: Mapping[str, Any], path: Sequence[str], known: Sequence[str], section: str) -> dict[str, Any]:
    """Walk `tree` along `path`, collecting configs; deeper levels override shallower ones."""
    configs: dict[str, Any] = {}
    level: Mapping[str, Any] | None = tree
    trail = [section]
    for step in [None, *path]:
        if step is not None:
            level = level.get(step) if level is not None else None
            trail.append(step)
            if level is None:
                break
            if not isinstance(level, Mapping):
                raise ProjectConfigError(
                    f"{'.'.join(trail)} must be a mapping of configs (+key: value) or of folders", PROJECT_FILE
                )
        assert level is not None
        for key, value in level.items():
            bare = key[1:] if key.startswith("+") else key
            if _is_config(key, value, known):
                if bare not in known:
                    raise ProjectConfigError(
                        f"{'.'.join(trail)}: unsupported config {key!r}; supported: "
                        + ", ".join(f"+{k}" for k in known),
                        PROJECT_FILE,
                        line_of(level, key),
                    )
                configs[bare] = value
    return configs


def _is_config(key: str, value: Any, known: Sequence[str]) -> bool:
    """`+key` always; a bare known key unless its mapping value makes it a folder (column_types excepted)."""
    if key.startswith("+"):
        return True
    return key in known and (not isinstance(value, Mapping) or key == "column_types")
