"""dbt_project.yml: the project's name, folders, vars and folder-level configs.

Configs nest as in dbt: under `models:` (or `seeds:`), a `+key` (or a known key without `+`)
sets a config for everything below; other keys name the project, then folders, then files.
Deeper levels override shallower ones, except hooks, which add up from the project down, as in
dbt. A configured `schema` is a custom schema: `generate_schema_name` (dbt's default, or the
project's own macro of that name) turns it into the schema a node builds in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbt_like_sql.engine.errors import ProjectConfigError
from dbt_like_sql.engine.yaml_lines import line_of, load_yaml

__all__ = [
    "HOOK_KEYS",
    "MODEL_CONFIG_KEYS",
    "PROJECT_FILE",
    "SEED_CONFIG_KEYS",
    "SNAPSHOT_CONFIG_KEYS",
    "ProjectFile",
    "hook_list",
    "load_project_file",
]

PROJECT_FILE = "dbt_project.yml"
MODEL_CONFIG_KEYS = ("materialized", "schema", "unique_key", "enabled", "pre_hook", "post_hook", "grants")
SEED_CONFIG_KEYS = ("schema", "column_types", "enabled", "grants")
SNAPSHOT_CONFIG_KEYS = (
    "schema",
    "target_schema",
    "unique_key",
    "strategy",
    "updated_at",
    "check_cols",
    "invalidate_hard_deletes",
    "enabled",
    "grants",
)
HOOK_KEYS = ("pre_hook", "post_hook")  # dbt_project.yml spells them +pre-hook, +post-hook
_USED_KEYS = {
    "name",
    "profile",
    "model-paths",
    "seed-paths",
    "macro-paths",
    "test-paths",
    "snapshot-paths",
    "docs-paths",
    "packages-install-path",
    "vars",
    "models",
    "seeds",
    "snapshots",
}
_IGNORED_KEYS = {
    "version",
    "config-version",
    "analysis-paths",
    "asset-paths",
    "target-path",
    "clean-targets",
    "require-dbt-version",
}


@dataclass(frozen=True)
class ProjectFile:
    name: str
    profile: str | None
    model_paths: tuple[str, ...]
    seed_paths: tuple[str, ...]
    macro_paths: tuple[str, ...]
    test_paths: tuple[str, ...]
    snapshot_paths: tuple[str, ...]
    docs_paths: tuple[str, ...]
    packages_install_path: str
    vars: Mapping[str, Any]
    models: Mapping[str, Any]
    seeds: Mapping[str, Any]
    snapshots: Mapping[str, Any]

    def model_config(self, folders: Sequence[str], name: str) -> dict[str, Any]:
        """The configs that apply to a model in `folders` (relative to its model path)."""
        return _resolve(self.models, [self.name, *folders, name], MODEL_CONFIG_KEYS, "models")

    def seed_config(self, folders: Sequence[str], name: str) -> dict[str, Any]:
        return _resolve(self.seeds, [self.name, *folders, name], SEED_CONFIG_KEYS, "seeds")

    def snapshot_config(self, folders: Sequence[str], name: str) -> dict[str, Any]:
        return _resolve(self.snapshots, [self.name, *folders, name], SNAPSHOT_CONFIG_KEYS, "snapshots")


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
    for key in ("vars", "models", "seeds", "snapshots"):
        if not isinstance(document.get(key) or {}, Mapping):
            raise ProjectConfigError(f"`{key}` must be a mapping", PROJECT_FILE, line_of(document, key))
    profile = document.get("profile")
    if profile is not None and not isinstance(profile, str):
        raise ProjectConfigError(
            "`profile` must name a profile of profiles.yml", PROJECT_FILE, line_of(document, "profile")
        )
    install = document.get("packages-install-path", "dbt_packages")
    if not isinstance(install, str) or not install or ".." in install:
        raise ProjectConfigError(
            "`packages-install-path` must be a folder inside the project",
            PROJECT_FILE,
            line_of(document, "packages-install-path"),
        )
    sections = (("models", MODEL_CONFIG_KEYS), ("seeds", SEED_CONFIG_KEYS), ("snapshots", SNAPSHOT_CONFIG_KEYS))
    for section, known in sections:
        tree = document.get(section) or {}
        for key, value in tree.items():
            if not _is_config(key, value, known) and key != name:
                raise ProjectConfigError(
                    f"{section}.{key}: configs below `{section}:` go under the project's name ({name!r})",
                    PROJECT_FILE,
                    line_of(tree, key),
                )
    model_paths = _paths(document, "model-paths", ["models"])
    return ProjectFile(
        name=name,
        profile=profile,
        model_paths=model_paths,
        seed_paths=_paths(document, "seed-paths", ["seeds"]),
        macro_paths=_paths(document, "macro-paths", ["macros"]),
        test_paths=_paths(document, "test-paths", ["tests"]),
        snapshot_paths=_paths(document, "snapshot-paths", ["snapshots"]),
        docs_paths=_paths(document, "docs-paths", list(model_paths)),
        packages_install_path=install,
        vars=dict(document.get("vars") or {}),
        models=document.get("models") or {},
        seeds=document.get("seeds") or {},
        snapshots=document.get("snapshots") or {},
    )


def _paths(document: Mapping[str, Any], key: str, default: list[str]) -> tuple[str, ...]:
    value = document.get(key, default)
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
            bare = (key[1:] if key.startswith("+") else key).replace("-", "_")
            if _is_config(key, value, known):
                if bare not in known:
                    raise ProjectConfigError(
                        f"{'.'.join(trail)}: unsupported config {key!r}; supported: "
                        + ", ".join(f"+{k}" for k in known),
                        PROJECT_FILE,
                        line_of(level, key),
                    )
                if bare in HOOK_KEYS:
                    configs[bare] = [*configs.get(bare, []), *hook_list(value)]
                else:
                    configs[bare] = value
    return configs


def hook_list(value: Any) -> list[str]:
    """A hook config as a list of statements: dbt takes one string or a list of them."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _is_config(key: str, value: Any, known: Sequence[str]) -> bool:
    """`+key` always; a bare known key unless its mapping value makes it a folder (column_types excepted)."""
    if key.startswith("+"):
        return True
    return key.replace("-", "_") in known and (not isinstance(value, Mapping) or key in ("column_types", "grants"))
