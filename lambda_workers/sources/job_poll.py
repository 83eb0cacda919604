"""An external job started, then polled until it finishes (seed 001's ETL job).

Config: {"kind": "job_poll", "base_url": ..., "start_path": "/v1/jobs",
         "job": {"kind": "index_constituents", "params": {...}},
         "status_path": "/v1/jobs/{job_id}", "poll_seconds": 2, "auth": {...}}
The cursor is the job's token and state, so a chain spans as many links as the job takes: each
link polls while its budget allows, and the next link resumes polling the same job. When the
job succeeds, its CSV result becomes the records. Starting a job is not idempotent at the
vendor: a link killed between the start and its commit starts a second job on the re-run.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Mapping
from typing import Any

from lambda_workers.exceptions import SourceError
from lambda_workers.sources.base import Page, Source, SourceContext
from lambda_workers.sources.config import require_int, require_mapping, require_str
from lambda_workers.sources.http import HttpClient, HttpResponse
from lambda_workers.sources.vendor_http import client_from_config

__all__ = ["JobPollSource"]

_RESERVE_SECONDS = 1.0
"""Time a link keeps after its last wait, for the commit and the hand-on."""


class JobPollSource(Source):
    kind = "job_poll"

    def __init__(self, client: HttpClient, config: Mapping[str, Any], context: SourceContext):
        self._client = client
        self._start_path = require_str(config, "start_path")
        self._job = require_mapping(config, "job")
        self._status_path = require_str(config, "status_path")
        self._poll_seconds = require_int(config, "poll_seconds", 2, 0, 300)
        self._remaining = context.remaining_seconds

    @classmethod
    def from_config(cls, config: Mapping[str, Any], context: SourceContext) -> JobPollSource:
        return cls(client_from_config(config, context), config, context)

    def initial_cursor(self) -> dict[str, Any]:
        return {"state": "new"}

    def resume_cursor(self, high_water: Mapping[str, Any]) -> dict[str, Any]:
        """A finished job is not resumed: the next run starts a new one."""
        return self.initial_cursor()

    def fetch(self, cursor: Mapping[str, Any]) -> Page:
        if cursor.get("state") == "new":
            started = _json(self._client.post_json(self._start_path, self._job))
            job_id = started.get("job_id")
            if not isinstance(job_id, str):
                raise SourceError(f"{self._start_path}: the answer has no job_id: {started!r}")
            return Page([], {"state": "polling", "job_id": job_id, "progress": 0.0, "polls": 0}, exhausted=False)
        job_id = cursor["job_id"]
        status = _json(self._client.get(self._status_path.format(job_id=job_id)))
        state = status.get("status")
        if state == "failed":
            raise SourceError(f"job {job_id} failed: {status.get('error')}")
        if state == "succeeded":
            result = self._client.get(status["result_url"])
            records = list(csv.DictReader(io.StringIO(result.body.decode("utf-8-sig"), newline="")))
            return Page(records, {"state": "finished", "job_id": job_id}, exhausted=True, window_closed=True)
        polls = int(cursor.get("polls", 0)) + 1
        left = self._remaining() - _RESERVE_SECONDS
        pause = left < self._poll_seconds  # the next poll does not fit: wait what is left, the next link polls
        time.sleep(max(0.0, min(self._poll_seconds, left)))
        progress = float(status.get("progress") or 0.0)
        cursor = {"state": "polling", "job_id": job_id, "progress": progress, "polls": polls}
        return Page([], cursor, exhausted=False, pause=pause)


def _json(response: HttpResponse) -> dict[str, Any]:
    value = response.json()
    if not isinstance(value, dict):
        raise SourceError(f"{response.url}: expected a JSON object")
    return value
