"""Polled ETL jobs, like a BI tool's export: create, poll the status, fetch the result.

A job does no work in the background: its status is a function of the wall-clock time since
it was created and of the `job_seconds` it was given. It is `queued` for the first tenth of
that time, then `running` with `progress` growing linearly, then `succeeded` (or `failed`, when
its parameters could not be served: e.g. an `as_of` after the vendor's last published day at
creation). Each job is a JSON file in the state folder, so a restarted service still knows it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from local_stack.vendor_api.exceptions import NotFound

__all__ = ["Job", "JobStore"]

logger = logging.getLogger(__name__)

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
_QUEUED_FRACTION = 0.1


@dataclass(frozen=True)
class Job:
    job_id: str
    kind: str
    params: dict[str, Any]
    created_at: float
    job_seconds: float
    error: str | None = None

    def status(self, at: float) -> dict[str, Any]:
        """The job as `GET /v1/jobs/{id}` shows it at wall-clock time `at`."""
        elapsed = max(0.0, at - self.created_at)
        duration = self.job_seconds
        body: dict[str, Any] = {"job_id": self.job_id, "kind": self.kind, "params": self.params}
        if elapsed >= duration:
            if self.error is not None:
                body.update(status="failed", progress=1.0, error=self.error)
            else:
                body.update(status="succeeded", progress=1.0, result_url=f"/v1/jobs/{self.job_id}/result")
        elif elapsed < duration * _QUEUED_FRACTION:
            body.update(status="queued", progress=0.0)
        else:
            body.update(status="running", progress=round(elapsed / duration, 4))
        return body


class JobStore:
    """Jobs kept in memory and mirrored to `<state_dir>/jobs/<job_id>.json` (written atomically)."""

    def __init__(self, state_dir: Path) -> None:
        self._dir = state_dir / "jobs"
        self._dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        for path in sorted(self._dir.glob("*.json")):
            try:
                job = Job(**json.loads(path.read_text()))
            except (OSError, ValueError, TypeError) as exc:
                logger.warning("ignoring unreadable job file %s: %s", path, exc)
                continue
            self._jobs[job.job_id] = job
        logger.info("loaded %d job(s) from %s", len(self._jobs), self._dir)

    def create(self, kind: str, params: dict[str, Any], job_seconds: float, error: str | None) -> Job:
        job = Job(uuid.uuid4().hex, kind, params, time.time(), job_seconds, error)
        target = self._dir / f"{job.job_id}.json"
        staging = target.with_suffix(".tmp")
        staging.write_text(json.dumps(asdict(job)))
        os.replace(staging, target)
        with self._lock:
            self._jobs[job.job_id] = job
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id) if _JOB_ID.match(job_id) else None
        if job is None:
            raise NotFound(f"job_id: no job {job_id!r}")
        return job
