"""The Python a function runs in: what AWS's Python 3.11 runtime offers, and nothing from our venv.

On AWS a function sees its zip (`/var/task`, first on `sys.path`), the runtime directory
(`/var/runtime`: the runtime client and the AWS SDK) and the standard library. Running the
runtime with the service's own interpreter would also hand every function the project's
site-packages, so a worker that imports dagster or pandas by mistake would pass every local test
and fail with `Runtime.ImportModuleError` on its first real invocation. Each execution
environment therefore runs the base interpreter (not the venv's) with `-I -S`: no site-packages,
no `PYTHON*` variables, no current directory on the path. A bootstrap then puts the task root
and a runtime directory in front of the standard library, as AWS orders them.

The runtime directory holds symlinks to the installed distributions AWS ships there, found with
`importlib.metadata` (never by path): awslambdaric with its own dependencies (simplejson and
snapshot-restore-py, without which the runtime client cannot start) and boto3 with botocore,
s3transfer, jmespath, python-dateutil, six and urllib3. It is rebuilt each time the service
starts, so it always points at what is installed now.
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RUNTIME_DISTRIBUTIONS", "PythonRuntime", "build_runtime"]

#: What AWS's Python runtime provides beside the standard library; their dependencies come along.
RUNTIME_DISTRIBUTIONS = ("awslambdaric", "boto3")

#: Runs inside the isolated interpreter: task root, then runtime directory, then the standard library.
_BOOTSTRAP = (
    "import os, runpy, sys; "
    "sys.path[:0] = [os.environ['LAMBDA_TASK_ROOT'], os.environ['LAMBDA_RUNTIME_DIR']]; "
    "runpy.run_module('awslambdaric', run_name='__main__', alter_sys=True)"
)
_REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class PythonRuntime:
    """An interpreter and the runtime directory its functions see (`LAMBDA_RUNTIME_DIR`)."""

    interpreter: str
    directory: Path

    def command(self, handler: str) -> list[str]:
        """The runtime process's argv; awslambdaric reads the handler from `sys.argv[1]`."""
        return [self.interpreter, "-I", "-S", "-c", _BOOTSTRAP, handler]


def build_runtime(directory: Path) -> PythonRuntime:
    """Populate `directory` afresh with the runtime's distributions and pair it with the base interpreter.

    `sys._base_executable` is the interpreter the venv was made from, as the `venv` module itself
    finds it; without a venv it is `sys.executable`.
    """
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    for distribution in _closure(RUNTIME_DISTRIBUTIONS):
        for entry in _top_level_entries(distribution):
            (directory / entry).symlink_to(Path(str(distribution.locate_file(entry))).resolve())
    return PythonRuntime(sys._base_executable, directory)


def _closure(roots: tuple[str, ...]) -> list[importlib.metadata.Distribution]:
    """The named distributions and everything they require (extras left out), each once."""
    found: dict[str, importlib.metadata.Distribution] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in found:
            continue
        distribution = importlib.metadata.distribution(name)
        found[key] = distribution
        for requirement in distribution.requires or []:
            _, _, marker = requirement.partition(";")
            match = _REQUIREMENT_NAME.match(requirement.strip())
            if match and "extra" not in marker:
                pending.append(match.group())
    return [found[key] for key in sorted(found)]


def _top_level_entries(distribution: importlib.metadata.Distribution) -> set[str]:
    """The first path component of each installed file: packages, modules, extensions, `.dist-info`.

    Files outside site-packages (console scripts, listed as `../../bin/...`) and byte-code caches
    are left out; the metadata directory comes along so `importlib.metadata` works inside, as it
    does on AWS.
    """
    entries = set()
    for file in distribution.files or []:
        top = file.parts[0]
        if top not in ("..", "__pycache__"):
            entries.add(top)
    return entries
