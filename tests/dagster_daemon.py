"""Dagster's daemon and its backfill command as real processes, for the tests that run lineages through them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg

from local_stack.home import PROJECT_ROOT

__all__ = ["TERMINAL", "Daemon", "backfill"]

WORKSPACE = str(PROJECT_ROOT / "workspace.yaml")
BIN = Path(sys.executable).parent
TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def _default_signals() -> None:
    """A child of a non-interactive shell inherits an ignored SIGINT; the daemon must heed SIGTERM."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class Daemon:
    """`dagster-daemon run` in a process group of its own, started and stopped by pid."""

    def __init__(self, environment: dict[str, str]):
        self._environment = environment
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", WORKSPACE],
            cwd=PROJECT_ROOT,
            env=self._environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_default_signals,
        )

    def stop(self) -> None:
        """SIGTERM to the group (the daemon and its run workers), SIGKILL if it has not gone within a minute."""
        if self._process is None:
            return
        os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=30)
        self._process = None


def backfill(environment: dict[str, str], *selection: str) -> str:
    """Request a backfill of `prices_lineage` (`--partitions ...` or `--from ... --to ...`); return its id."""
    command = [str(BIN / "dagster"), "job", "backfill", "-w", WORKSPACE, "-j", "prices_lineage", "--noprompt"]
    result = subprocess.run(
        [*command, *selection],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.search(r"Launched backfill job `([^`]+)`", result.stdout)
    assert found, result.stdout
    return found.group(1)
