"""The watchdog: a relay chain whose link died is resumed by the platform, not by a person.

A relay chain has no run watching it, so when a link dies (killed at its deadline or memory
limit, its runtime crashed, its host lost) nobody hands the baton on. Each tick this sensor finds
such chains two ways:

1. **Lambda says so.** With asynchronous retries on, a link that dies holding its lease is
   retried under the same request id, meets its own lease (`LinkBusyError`) and fails again;
   once the retries are spent Lambda sends the invocation record to the function's on-failure
   queue. The watchdog drains that queue: it breaks the lease the dead request still holds (only
   the platform, which knows the request is dead, may) and resumes the chain if it still stands
   where that request left it.
2. **Nothing says so.** A relay chain pending or running with no commit for longer than a link
   can live (the function's timeout plus `overdue_margin_seconds`) lost its link silently (an
   invocation record that never came, a retry that found its link committed and died handing
   on): the watchdog resumes it too.

Resuming commits the record first (`restarts` + 1, why in `last_error`, `updated_at` now) and
then invokes the link again asynchronously: the start event of a chain still pending, the
continuation of a running one. A mistaken resume is harmless (a live link keeps its lease, so
the resumed copy ends as a duplicate) and rare, since a chain whose lease is live is left alone;
it costs only a restart. A chain resumed `max_restarts` times is failed instead: its record says
why, the raw asset's `chain_healthy` check fails and the data engineers get an email.

Every tick that finishes its work then puts one datapoint of `Baton/StalledChains` (dimension
`Deployment`) to CloudWatch: how many chains it found stalled (`Watchdog.stalled`), 0 on a quiet
tick. The `ChainStalledAlarm` of `infra/template.yaml` treats missing data as breaching, so a
daemon that is down, or a tick that crashes before the end, raises it as stalled chains do.

Shards run in driven mode only, and a driven chain is its run's business, so the watchdog
handles relay chains only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from botocore.exceptions import BotoCoreError, ClientError

from lambda_workers.chain.cursor_store import CursorRecord, parameter_name
from lambda_workers.chain.status import ChainMode, ChainStatus
from lambda_workers.events import ChainAddress, LinkEvent, parse_event
from lambda_workers.exceptions import EventError, error_from_payload
from platform_defs.automation.jobs import lineage_keys
from platform_defs.chain_clients import aws_client
from platform_defs.chain_health import CHAIN_HEALTHY, chain_problem
from platform_defs.chain_metadata import record_metadata
from platform_defs.datasets import DATASETS
from platform_defs.resources.chains import ChainResource
from platform_defs.resources.lake import Lake
from platform_defs.resources.notifier import EmailNotifier
from platform_defs.settings import AwsSettings

__all__ = ["chain_watchdog"]

MAX_MESSAGES_PER_TICK = 200  # a backlog larger than this drains over several ticks, each kept short
METRIC_NAMESPACE = "Baton"  # the only namespace the daemon's role may put metrics in
STALLED_CHAINS_METRIC = "StalledChains"


@dg.sensor(
    name="chain_watchdog",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Resumes relay chains whose link died (reported on the function's on-failure queue, or silent "
        "for longer than a link can live); fails and reports a chain past its max_restarts. Every tick "
        "puts the number of stalled chains it found to CloudWatch (Baton/StalledChains)."
    ),
)
def chain_watchdog(
    context: dg.SensorEvaluationContext, chains: ChainResource, lake: Lake, notifier: EmailNotifier
) -> dg.SensorResult | dg.SkipReason:
    watchdog = Watchdog(chains, lake.bucket, notifier, context.log)
    watchdog.drain_failures()
    watchdog.resume_overdue()
    watchdog.publish_stalled()
    if not watchdog.checks:
        return dg.SkipReason(watchdog.summary())
    return dg.SensorResult(asset_events=list(watchdog.checks))


class Watchdog:
    """One tick's work: what it resumed and gave up on, and the failed checks it reports."""

    def __init__(self, chains: ChainResource, bucket: str, notifier: EmailNotifier, log: Any):
        self._chains = chains
        self._bucket = bucket
        self._notifier = notifier
        self._log = log
        self._store = chains.store()
        self._handled: set[ChainAddress] = set()  # one resume per chain and tick, however many reports
        self.resumed: list[ChainAddress] = []
        self.checks: list[dg.AssetCheckEvaluation] = []  # one failed chain_healthy check per chain given up on

    @property
    def stalled(self) -> int:
        """The chains this tick found stalled: those it resumed, and those it gave up on (one failed check each).

        A chain is stalled when no live link carries it on: a relay chain still standing where a
        request Lambda gave up on left it (reported on the on-failure queue), or pending or
        running with no commit for longer than a link can live (overdue). Not counted: a chain
        that moved on since its report, one whose lease is live (its link is alive), and
        anything the watchdog does not watch (driven chains, shards). Each chain counts once a
        tick, however many reports name it.
        """
        return len(self.resumed) + len(self.checks)

    def summary(self) -> str:
        counted = f"{STALLED_CHAINS_METRIC} {self.stalled}"
        if not self.resumed:
            return f"no relay chain lost its link ({counted})"
        return "resumed " + ", ".join(chain.path() for chain in self.resumed) + f" ({counted})"

    def publish_stalled(self) -> None:
        """Put this tick's `stalled` count to CloudWatch, for `ChainStalledAlarm`.

        Called once the tick's work is done, so a tick that crashes publishes nothing and the
        alarm sees missing data. A failure to publish is only logged: the chains are already
        resumed and their checks must still be reported, and the alarm sees the missing data.
        """
        try:
            aws_client(AwsSettings(self._chains.region_name), "cloudwatch").put_metric_data(
                Namespace=METRIC_NAMESPACE,
                MetricData=[
                    {
                        "MetricName": STALLED_CHAINS_METRIC,
                        "Dimensions": [{"Name": "Deployment", "Value": self._chains.deployment}],
                        "Value": self.stalled,
                        "Unit": "Count",
                    }
                ],
            )
        except (BotoCoreError, ClientError) as exc:
            self._log.warning(
                f"{METRIC_NAMESPACE}/{STALLED_CHAINS_METRIC} not published ({type(exc).__name__}: {exc}); "
                "ChainStalledAlarm sees missing data"
            )

    def drain_failures(self) -> None:
        """Handle the invocation records on the function's on-failure queue, deleting each once handled."""
        url = self._chains.failure_queue_url()
        if url is None:
            self._log.warning(
                f"{self._chains.function_name} has no SQS on-failure destination: a link that died is "
                "seen only once its chain is overdue (redeploy with `baton deploy`)"
            )
            return
        sqs = self._chains.sqs()
        for _ in range(0, MAX_MESSAGES_PER_TICK, 10):
            # Long polling (1 s) asks every SQS server, so an empty answer means an empty queue.
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages")
            if not messages:
                return
            for message in messages:
                if self._handle_failure(json.loads(message["Body"])):
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def resume_overdue(self) -> None:
        """Resume the relay chains pending or running without a commit for longer than a link can live."""
        timeout = self._chains.function_timeout_seconds()
        limit = timeout + self._chains.overdue_margin_seconds
        now = datetime.now(UTC)
        for chain, record in self._chains.records():
            if not _watched(chain, record) or record.status not in (ChainStatus.PENDING, ChainStatus.RUNNING):
                continue
            silent = (now - datetime.fromisoformat(record.updated_at)).total_seconds()
            if silent > limit:
                why = f"no commit for {silent:.0f} s, longer than a link lives ({timeout} s) plus {limit - timeout} s"
                self._resume(chain, record, why, self._bucket)

    def _handle_failure(self, body: Mapping[str, Any]) -> bool:
        """One invocation record; False to leave it on the queue (another deployment's)."""
        request_id = str(body.get("requestContext", {}).get("requestId", ""))
        try:
            event = parse_event(body.get("requestPayload"))
        except EventError as exc:
            self._log.warning(f"the failure of request {request_id} holds no link event ({exc}): dropped")
            return True
        if event.deployment != self._chains.deployment:
            return False
        # Lambda has given up on the request, so a lease it still holds guards nothing.
        self._chains.fence(event.bucket).break_held_by(event.chain, request_id)
        record, halted = self._store.load(self._chains.deployment, event.chain)
        why = f"request {request_id} failed: {_failure(body)}"
        if record is None or not _watched(event.chain, record) or not _left_by(record, event, request_id, halted):
            self._log.info(f"{event.chain.path()}: {why}; the chain has moved on since, nothing to resume")
            return True
        self._resume(event.chain, record, why, event.bucket)
        return True

    def _resume(self, chain: ChainAddress, record: CursorRecord, why: str, bucket: str) -> None:
        """Invoke the chain's next link again, or fail the chain once it used its restarts."""
        if chain in self._handled:
            return
        self._handled.add(chain)
        if record.status == ChainStatus.HALTED:
            # Its resume failed before the resumed link committed: it is running again now, so
            # the overdue path sees it even if the resume below has to wait for a lease.
            record.status = ChainStatus.RUNNING
            record.last_error = why[:1000]
            record.updated_at = datetime.now(UTC).isoformat()
            self._store.commit(self._chains.deployment, chain, record)
        lease = self._chains.fence(bucket).holder(chain)
        if lease is not None and lease.chain_id == record.chain_id and lease.live(time.time()):
            self._log.info(f"{chain.path()}: {why}; but {lease.describe()}, so it is alive")
            return
        if record.restarts >= self._chains.max_restarts:
            self._give_up(chain, record, why)
            return
        record.restarts += 1
        record.last_error = why[:1000]
        record.updated_at = datetime.now(UTC).isoformat()
        self._store.commit(self._chains.deployment, chain, record)
        start = self._chains.start_event(DATASETS[chain.asset], chain, bucket, mode=ChainMode.RELAY)
        if record.status == ChainStatus.PENDING:
            event = start.to_dict()
        else:
            event = start.continuation(record.chain_id, record.link + 1)
        request_id = self._chains.invoke_async(event)
        self.resumed.append(chain)
        self._log.warning(
            f"{chain.path()}: {why}; resumed chain {record.chain_id} at link {record.link + 1} "
            f"(restart {record.restarts} of {self._chains.max_restarts}, request {request_id})"
        )

    def _give_up(self, chain: ChainAddress, record: CursorRecord, why: str) -> None:
        """Fail the chain for good: the record says why, the check fails, the engineers get an email."""
        now = datetime.now(UTC)
        record.status = ChainStatus.FAILED
        record.last_error = f"gave up after {record.restarts} restarts (max_restarts); last: {why}"[:1000]
        record.updated_at = now.isoformat()
        self._store.commit(self._chains.deployment, chain, record)
        parameter = parameter_name(self._chains.deployment, chain)
        problem = chain_problem(record, now, self._chains.stall_after_seconds)
        raw_key = lineage_keys(DATASETS[chain.asset])[0]
        self.checks.append(
            dg.AssetCheckEvaluation(
                asset_key=raw_key,
                check_name=CHAIN_HEALTHY,
                passed=False,
                description=problem,
                metadata=record_metadata(parameter, record),
            )
        )
        subject = f"[baton] relay chain failed: {chain.path()}"
        body = "\n".join(
            [
                f"Chain: {chain.path()} (chain id {record.chain_id}, relay mode)",
                f"Cursor record: {parameter} (SSM parameter)",
                f"Stopped at: link {record.link}, {record.rows} rows",
                f"Restarts: {record.restarts} of {self._chains.max_restarts}, each after its link died",
                f"Last error: {why}",
                "",
                f"Materialise {raw_key.to_user_string()} for this partition again to resume it from its cursor "
                f"({self._notifier.ui_url}/assets/{raw_key.to_user_string()}).",
            ]
        )
        message_id = self._notifier.send(subject, body)
        self._log.error(f"{chain.path()}: {record.last_error}; alert {message_id} sent")


def _watched(chain: ChainAddress, record: CursorRecord) -> bool:
    """A relay chain of the catalogue: the chains the watchdog resumes (shards are driven)."""
    return record.mode == ChainMode.RELAY and chain.asset in DATASETS and not chain.shard


def _left_by(record: CursorRecord, event: LinkEvent, request_id: str, halted: bool) -> bool:
    """The chain still stands where the failed request left it, so resuming it is the request's work.

    A pending chain was the start's to begin. A halted one whose halt flag is cleared was being
    resumed by the start. A running one is the request's while its link has not committed, or
    when the request itself made the last commit (it died handing on); a commit by another
    request means the chain went on without it.
    """
    if record.status == ChainStatus.PENDING:
        return event.action == "start"
    if record.status == ChainStatus.HALTED:
        # A start after a halt is a resume; it failed before the resumed link could commit.
        return event.action == "start" and not halted
    if record.status != ChainStatus.RUNNING:
        return False
    if event.action == "continue" and event.chain_id != record.chain_id:
        return False
    return (event.link is not None and record.link < event.link) or record.last_request_id == request_id


def _failure(body: Mapping[str, Any]) -> str:
    """What Lambda reports of the failure: the last attempt's error, else the condition (an event too old, say)."""
    context = body.get("requestContext", {})
    attempts = f"{context.get('approximateInvokeCount', '?')} attempts, {context.get('condition', 'unknown')}"
    response = body.get("responsePayload")
    if isinstance(response, Mapping) and "errorType" in response:
        error = error_from_payload(response)
        return f"{type(error).__name__}: {error} ({attempts})"
    return attempts
