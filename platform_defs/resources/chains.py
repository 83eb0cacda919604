"""Start, drive, watch and halt relay chains from Dagster.

Driven mode: the asset invokes one link after another (synchronous invokes) and sees each
link's result; a link killed at its deadline is simply invoked again, since it committed
nothing past its last commit. Interrupting the run (a terminated Dagster run) sets the chain's
halt flag, so a link still in flight is the last one. Relay mode: the asset launches the first
link and the links invoke each other; the relay sensor follows the cursor records and the
watchdog (`platform_defs.automation.watchdog`) resumes a chain whose link died.

Either way a start first registers its chain (`register`): a new chain is committed as PENDING
under the id it will run with, so a first link that dies before its first commit still leaves
a chain that `baton chains list` shows and the watchdog can start again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from dagster import ConfigurableResource, Failure

from lambda_workers.chain.cursor_store import CursorRecord, SsmCursorStore, parameter_name
from lambda_workers.chain.fence import LinkFence, LinkHeldError
from lambda_workers.chain.link_result import LinkResult
from lambda_workers.chain.runner import new_chain_id
from lambda_workers.chain.status import ChainMode, ChainStatus, LinkOutcome
from lambda_workers.events import DEFAULT_CHECKPOINT_SECONDS, ChainAddress, LinkEvent, Validation
from lambda_workers.exceptions import error_from_payload
from platform_defs.chain_clients import aws_client, lambda_client
from platform_defs.datasets import Dataset, VendorEndpoint
from platform_defs.settings import AwsSettings, vendor_variable

__all__ = ["ChainResource"]

_CONNECTION_LOST = (ReadTimeoutError, ConnectionClosedError, EndpointConnectionError)
"""A synchronous invoke whose answer never came: the link may have run, may still run, or never started."""

_POLL_SECONDS = 1.0  # how often a driver waiting on another copy of a link reads the record and the lease

_RECOVERED_OUTCOMES = {
    ChainStatus.DONE: LinkOutcome.EXHAUSTED,
    ChainStatus.FAILED: LinkOutcome.FAILED,
    ChainStatus.HALTED: LinkOutcome.HALTED,
}
"""A committed link's outcome as its record tells it (a running chain: the budget was spent)."""


@dataclass(frozen=True)
class _LinkTarget:
    """The link an invoke runs, so a driver that lost the answer can tell from the record whether it committed."""

    chain_id: str
    link: int

    def committed(self, record: CursorRecord | None) -> bool:
        return record is not None and record.chain_id == self.chain_id and record.link >= self.link


class ChainResource(ConfigurableResource):
    """The chain function and where its cursors live; clients are built from these fields."""

    function_name: str
    deployment: str
    region_name: str
    vendor_base_urls: dict[str, str]  # by vendor name, from settings
    vendor_secret_parameters: dict[str, str]  # by vendor name: the SSM SecureString each vendor's secret is in
    max_links: int = 500
    checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS  # BATON_CHECKPOINT_SECONDS: a link commits this often
    page_size: int | None = None  # rows per vendor page, for every dataset, instead of the declared sizes
    max_attempts_per_link: int = 3
    stall_after_seconds: int = 1800  # a running chain with no commit for this long has stalled (2 full links)
    max_restarts: int = 5  # times the watchdog resumes a relay chain whose link died, before failing it
    overdue_margin_seconds: int = 60  # past the function's timeout: a relay chain silent this long lost its link

    def _aws(self) -> AwsSettings:
        return AwsSettings(self.region_name)

    def ssm(self) -> Any:
        """Parameter Store, where the cursor records and halt flags live."""
        return aws_client(self._aws(), "ssm")

    def sqs(self) -> Any:
        """SQS, where Lambda reports the asynchronous links that failed (the function's on-failure queue)."""
        return aws_client(self._aws(), "sqs")

    def store(self) -> SsmCursorStore:
        return SsmCursorStore(self.ssm())

    def fence(self, bucket: str) -> LinkFence:
        """The leases of this deployment's chains, which live in the chains' (lake) bucket."""
        return LinkFence(aws_client(self._aws(), "s3"), bucket, self.deployment)

    def vendor(self, name: str) -> VendorEndpoint | None:
        """A vendor's endpoint as settings give it; None for a vendor without one (a feed in S3)."""
        if name not in self.vendor_base_urls:
            return None
        return VendorEndpoint(self.vendor_base_urls[name], self.vendor_secret_parameters[name])

    def halt(self, chain: ChainAddress) -> None:
        self.store().set_halt(self.deployment, chain, True)

    def start_event(
        self,
        dataset: Dataset,
        chain: ChainAddress,
        bucket: str,
        full_refresh: bool = False,
        key_range: tuple[str, str] | None = None,
        mode: ChainMode = ChainMode.DRIVEN,
        link_seconds: float | None = None,
    ) -> LinkEvent:
        """The event that starts (or resumes) `chain`, in the worker's own event type."""
        vendor = self.vendor(dataset.vendor)
        if vendor is None and dataset.calls_vendor_api:
            variable = vendor_variable(dataset.vendor, "BASE_URL")
            raise Failure(
                description=f"{dataset.name} calls the vendor {dataset.vendor}, whose base URL {variable} is not set"
            )
        source = dataset.source_config(vendor, bucket, chain.partition, self.page_size)
        if key_range is not None and dataset.sharding is not None:
            shard = {dataset.sharding.from_param: key_range[0], dataset.sharding.to_param: key_range[1]}
            source["params"] = {**source.get("params", {}), **shard}
        prefix_partition = chain.partition if not chain.shard else f"{chain.partition}/{chain.shard}"
        checks = dataset.validation
        return LinkEvent(
            action="start",
            deployment=self.deployment,
            chain=chain,
            mode=mode,
            max_links=self.max_links,
            full_refresh=full_refresh,
            source=source,
            bucket=bucket,
            prefix=dataset.raw_prefix(prefix_partition),
            quarantine_prefix=dataset.quarantine_prefix(prefix_partition),
            validation=Validation(tuple(checks["required"]), checks["types"]),
            link_seconds=link_seconds,
            checkpoint_seconds=self.checkpoint_seconds,
        )

    def register(self, event: LinkEvent) -> CursorRecord:
        """Commit the chain a start will begin as PENDING, before its first link; return the record the start meets.

        Only a start that begins a new chain registers one: no record yet, a done chain whose
        window is still open (the new chain follows it: `previous_chain_id` and its cursor, from
        which the first link resumes incrementally), or a full refresh (from the source's initial
        cursor). A running, halted or pending chain is never overwritten: a link of it may be in
        flight, and a pending one is simply the chain this start runs. A failed chain the start
        resumes gets a fresh restart budget, since a person asked for it again.
        """
        store = self.store()
        record, _ = store.load(self.deployment, event.chain)
        follows: CursorRecord | None = None
        if record is not None:
            if record.status in (ChainStatus.RUNNING, ChainStatus.HALTED, ChainStatus.PENDING):
                return record
            reopens = record.status == ChainStatus.DONE and not record.window_closed
            if not event.full_refresh and not reopens:
                if record.status == ChainStatus.FAILED and record.restarts:
                    record.restarts = 0
                    store.commit(self.deployment, event.chain, record)
                return record  # the start itself resumes it (failed) or skips it (done, window closed)
            follows = None if event.full_refresh else record
        now = datetime.now(UTC)
        pending = CursorRecord(
            chain_id=new_chain_id(now),
            status=ChainStatus.PENDING,
            cursor=follows.cursor if follows else {},
            started_at=now.isoformat(),
            updated_at=now.isoformat(),
            mode=event.mode,
            previous_chain_id=follows.chain_id if follows else None,
        )
        store.commit(self.deployment, event.chain, pending)
        return pending

    def drive(self, event: LinkEvent, on_link: Callable[[LinkResult], None]) -> LinkResult:
        """Run the chain link by link until it stops; `on_link` sees every link's result."""
        self.store().set_halt(self.deployment, event.chain, False)
        target = _start_target(self.register(event), event.full_refresh)
        client = lambda_client(self._aws())
        fence = self.fence(event.bucket)
        payload = event.to_dict()
        in_flight = False
        try:
            while True:
                in_flight = True
                result = self._invoke_link(client, fence, event.chain, payload, target)
                in_flight = False
                on_link(result)
                if result.status != ChainStatus.RUNNING or result.chain_id is None:
                    return result
                payload = event.continuation(result.chain_id, result.link + 1)
                target = _LinkTarget(result.chain_id, result.link + 1)
        except BaseException as exc:
            if not isinstance(exc, Failure):
                self._stop(event, target, in_flight)
            raise

    def launch(self, event: LinkEvent) -> str:
        """Relay mode: register the chain, hand the first link to Lambda asynchronously and return at once.

        The links then pass the baton among themselves; `records` (read by the relay sensor and
        the watchdog) is how Dagster learns where the chain stands. Returns the invocation's
        request id.
        """
        self.store().set_halt(self.deployment, event.chain, False)
        self.register(event)
        return self.invoke_async(event.to_dict())

    def invoke_async(self, event: dict[str, Any]) -> str:
        """Hand one link's event to Lambda (`Event` invocation); returns the request id."""
        response = lambda_client(self._aws()).invoke(
            FunctionName=self.function_name, InvocationType="Event", Payload=json.dumps(event)
        )
        return str(response["ResponseMetadata"]["RequestId"])

    def function_timeout_seconds(self) -> int:
        """The chain function's timeout: no link lives longer."""
        return int(lambda_client(self._aws()).get_function_configuration(FunctionName=self.function_name)["Timeout"])

    def failure_queue_url(self) -> str | None:
        """The SQS queue Lambda sends failed asynchronous links to, as the function's own config names it.

        Read from the function rather than configured twice, so the watchdog drains whichever
        queue `baton deploy` or the CloudFormation stack set; None if it has none.
        """
        client = lambda_client(self._aws())
        try:
            config = client.get_function_event_invoke_config(FunctionName=self.function_name)
        except client.exceptions.ResourceNotFoundException:
            return None
        arn = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination") or ""
        parts = arn.split(":")
        if len(parts) != 6 or parts[2] != "sqs":
            return None
        response = self.sqs().get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])
        return str(response["QueueUrl"])

    def records(self, asset: str | None = None) -> Iterator[tuple[ChainAddress, CursorRecord]]:
        """Every chain record of this deployment (or of one asset), as the links committed them."""
        return self.store().records(self.deployment, asset)

    def _stop(self, event: LinkEvent, target: _LinkTarget | None, link_in_flight: bool) -> None:
        """The driving run was interrupted: flag the chain to halt, and see that it ends halted.

        A link in flight sees the flag at its next commit (a checkpoint, or its end) and records
        the halt itself; the driver waits for that while the link holds its lease. A link that
        died instead (killed at its deadline, say) records nothing, and with no link in flight
        nobody else would: then the driver takes the lease of the next link, so no copy can
        commit meanwhile, and records the halt itself. A rerun then resumes at once.
        """
        chain = event.chain
        self.halt(chain)
        fence = self.fence(event.bucket)
        if link_in_flight:
            self._await_link(fence, chain, target)
        holder = fence.holder(chain)
        record, _ = self.store().load(self.deployment, chain)
        if record is None or record.status != ChainStatus.RUNNING or (holder and holder.live(time.time())):
            return
        try:
            lease = fence.claim(chain, record.chain_id, record.link + 1, "halting-driver", time.time() + 30)
        except LinkHeldError:
            return  # a copy of the next link claimed it first: it sees the flag
        try:
            now = datetime.now(UTC).isoformat()
            self.store().mark_halted(self.deployment, chain, "halted: the run driving it was interrupted", now)
        finally:
            fence.release(lease, chain)

    def drive_shards(
        self, events: list[LinkEvent], on_link: Callable[[LinkResult], None], max_concurrency: int
    ) -> list[LinkResult]:
        """Drive one chain per shard, at most `max_concurrency` at a time; results in shard order."""
        with ThreadPoolExecutor(max_workers=max(1, max_concurrency), thread_name_prefix="shard") as pool:
            return list(pool.map(lambda event: self.drive(event, on_link), events))

    def _invoke_link(
        self, client: Any, fence: LinkFence, chain: ChainAddress, event: dict[str, Any], target: _LinkTarget | None
    ) -> LinkResult:
        """One link, invoked again (up to `max_attempts_per_link`) unless its error says a retry cannot help.

        A link that Lambda killed (`LinkDiedError`) committed nothing past its last commit, so
        running it again is safe; an event or a record that does not parse stays so. A link whose
        answer is lost (the connection dropped) or that another copy holds (`DUPLICATE`) may
        still commit: the driver waits for it (`_await_link`) and reads the result from the
        record, and invokes the link again only once no copy holds it.
        """
        failure, problem, cause = "", None, None
        for _ in range(self.max_attempts_per_link):
            try:
                response = client.invoke(FunctionName=self.function_name, Payload=json.dumps(event).encode())
            except _CONNECTION_LOST as exc:
                failure, problem, cause = f"{type(exc).__name__}: {exc}", f"{type(exc).__name__}: {exc}", exc
                committed = self._await_link(fence, chain, target)
                why = f"recovered from the cursor record: the invoke's answer was lost ({type(exc).__name__})"
            else:
                payload = json.loads(response["Payload"].read() or b"null")
                if "FunctionError" in response:
                    error = error_from_payload(payload)
                    failure, problem, cause = f"{type(error).__name__}: {error}", payload, error
                    if error.permanent:
                        break
                    # The invocation has ended, so its lease (if it claimed one) guards nothing: break it,
                    # or the retry would find the link taken until the dead attempt's deadline.
                    fence.break_held_by(chain, response["ResponseMetadata"]["RequestId"])
                    committed = self._committed(chain, target)  # by another copy, as this one failed
                    why = f"recovered from the cursor record: another copy committed it ({failure})"
                else:
                    result = LinkResult.from_payload(payload)
                    if result.outcome != LinkOutcome.DUPLICATE:
                        return result
                    failure, problem, cause = f"another copy held it: {result.detail}", result.to_payload(), None
                    committed = self._await_link(fence, chain, target)
                    why = f"recovered from the cursor record: another copy ran it ({result.detail})"
            if committed is not None:
                return self._recovered(chain, committed, why)
        raise Failure(
            description=f"link {event.get('link', 1)} of {event['chain']} failed: {failure}",
            metadata={"error": json.dumps(problem)[:2000]},
        ) from cause

    def _committed(self, chain: ChainAddress, target: _LinkTarget | None) -> CursorRecord | None:
        record, _ = self.store().load(self.deployment, chain)
        return record if target is not None and target.committed(record) else None

    def _await_link(self, fence: LinkFence, chain: ChainAddress, target: _LinkTarget | None) -> CursorRecord | None:
        """Wait while a copy of the link holds its lease: the record once the link committed, else None.

        None means no copy holds the link any more without having committed it (none ever ran,
        or the one that did died): invoking it again is then safe. The lease is read before the
        record, so a link that committed and then released its lease is seen committed. The wait
        is bounded: a lease lasts at most until its holder's deadline plus a margin.
        """
        while True:
            lease = fence.holder(chain)
            committed = self._committed(chain, target)
            if committed is not None or lease is None or not lease.live(time.time()):
                return committed
            if target is not None and (lease.chain_id, lease.link) != (target.chain_id, target.link):
                return None  # a copy of another link or chain runs: the worker decides what this link does
            time.sleep(_POLL_SECONDS)

    def _recovered(self, chain: ChainAddress, record: CursorRecord, why: str) -> LinkResult:
        """The result of a committed link whose own answer this driver did not get, read from its record."""
        return LinkResult.after_link(
            record,
            parameter=parameter_name(self.deployment, chain),
            outcome=_RECOVERED_OUTCOMES.get(record.status, LinkOutcome.BUDGET_SPENT),
            detail=why,
            link_ms=0.0,
            memory_mb=record.memory_mb or 0,
            max_rss_mb=0.0,
        )


def _start_target(record: CursorRecord, full_refresh: bool) -> _LinkTarget | None:
    """The link a start event runs, given the record it meets (after `register`).

    None when the driver cannot know: a full refresh of a running or halted chain begins a chain
    whose id only its first link chooses.
    """
    if record.status == ChainStatus.PENDING:
        return _LinkTarget(record.chain_id, 1)
    if full_refresh:
        return None
    return _LinkTarget(record.chain_id, record.link + 1)
