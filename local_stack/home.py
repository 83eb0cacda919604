"""Where the local stack keeps its state: one project-local folder, `.baton/` by default."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PROJECT_ROOT", "stack_home"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def stack_home(environ: os._Environ[str] | dict[str, str] | None = None) -> Path:
    """The stack's home: `$BATON_HOME` if set, else `.baton/` in the project root.

    The project root, not the working directory, so that `dagster dev`, the CLI and the tests
    started from anywhere in the checkout find the same running stack.
    """
    env = os.environ if environ is None else environ
    configured = env.get("BATON_HOME")
    return Path(configured).resolve() if configured else PROJECT_ROOT / ".baton"
