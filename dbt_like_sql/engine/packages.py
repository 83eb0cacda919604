"""packages.yml: local packages, installed by `deps` into the project's packages folder as dbt does.

A local package is another dbt project on this disk (`- local: ../shared_sql`); `deps` links it
as `<packages-install-path>/<its name>`, and its macros are then called as `name.macro()`.
Packages from dbt Hub or git would have to be fetched over the network, which this engine does
not do: they are refused with the package named, so the user can vendor the package and list it
as `local:` instead. A project loads only once every package it lists is installed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbt_like_sql.engine.errors import ProjectConfigError
from dbt_like_sql.engine.project_file import ProjectFile, load_project_file
from dbt_like_sql.engine.yaml_lines import line_of, load_yaml

__all__ = ["PACKAGES_FILES", "InstalledPackage", "install_packages", "installed_packages"]

PACKAGES_FILES = ("packages.yml", "dependencies.yml")
_REMOTE = {"package": "dbt Hub", "git": "git", "tarball": "a tarball URL", "private": "a private git host"}


@dataclass(frozen=True)
class InstalledPackage:
    name: str
    path: str  # the installed folder, relative to the root project
    project: ProjectFile


@dataclass(frozen=True)
class _LocalPackage:
    source: Path
    name: str
    line: int | None


def install_packages(project_dir: Path, install_path: str) -> list[tuple[str, Path]]:
    """Link each local package into `install_path`; (name, source) of each, or an error naming the entry."""
    installed = []
    folder = project_dir / install_path
    for package in _local_packages(project_dir):
        folder.mkdir(parents=True, exist_ok=True)
        link = folder / package.name
        if link.is_symlink() or link.is_file():
            link.unlink()
        elif link.is_dir():
            raise ProjectConfigError(
                f"{link} is a folder, not a package link: remove it, then run deps again", _file(project_dir)
            )
        link.symlink_to(os.path.relpath(package.source, folder), target_is_directory=True)
        installed.append((package.name, package.source))
    return installed


def installed_packages(project_dir: Path, install_path: str) -> list[InstalledPackage]:
    """The packages the project lists, each of which `deps` must have installed."""
    found = []
    for package in _local_packages(project_dir):
        path = project_dir / install_path / package.name
        if not (path / "dbt_project.yml").is_file():
            raise ProjectConfigError(
                f"package {package.name!r} is not installed in {install_path}/: run `baton sql deps`",
                _file(project_dir),
                package.line,
            )
        found.append(InstalledPackage(package.name, f"{install_path}/{package.name}", load_project_file(path)))
    return found


def _file(project_dir: Path) -> str | None:
    return next((name for name in PACKAGES_FILES if (project_dir / name).is_file()), None)


def _local_packages(project_dir: Path) -> list[_LocalPackage]:
    relative = _file(project_dir)
    if relative is None:
        return []
    document = load_yaml(project_dir / relative, relative, ProjectConfigError)
    entries = (document or {}).get("packages") if isinstance(document, Mapping | type(None)) else None
    if not isinstance(entries, list):
        raise ProjectConfigError("the file must hold `packages:`, a list of packages", relative, 1)
    packages = []
    for index, entry in enumerate(entries):
        line = line_of(entries, index)
        packages.append(_local(project_dir, relative, entry, line))
    names = [p.name for p in packages]
    for name in names:
        if names.count(name) > 1:
            raise ProjectConfigError(f"two packages are both named {name!r}", relative)
    return packages


def _local(project_dir: Path, relative: str, entry: Any, line: int | None) -> _LocalPackage:
    if not isinstance(entry, Mapping):
        raise ProjectConfigError("each package is a mapping, e.g. `- local: ../shared_sql`", relative, line)
    remote = next((key for key in _REMOTE if key in entry), None)
    if remote is not None:
        raise ProjectConfigError(
            f"package {entry[remote]!r} comes from {_REMOTE[remote]}, which cannot be fetched here: "
            "copy it into a folder beside the project and list it as `- local: <folder>`",
            relative,
            line,
        )
    if "local" not in entry or not isinstance(entry["local"], str):
        raise ProjectConfigError(f"unsupported package entry {dict(entry)!r}; use `- local: <folder>`", relative, line)
    source = (project_dir / entry["local"]).resolve()
    if not (source / "dbt_project.yml").is_file():
        raise ProjectConfigError(f"local package {entry['local']!r}: no dbt_project.yml in {source}", relative, line)
    return _LocalPackage(source, load_project_file(source).name, line)
