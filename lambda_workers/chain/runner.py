"""One link of a relay chain: decide, claim, work within the time budget, write, commit, hand on.

Order matters for safety: every page's chunk is durably in S3 before the cursor that covers it
is committed to Parameter Store. A link killed anywhere is re-run from the last committed
cursor; it rewrites the same chunk keys and first removes what the killed attempt wrote past
that cursor, so nothing is lost and nothing is duplicated. Before it writes anything, a link
claims its lease (`lambda_workers.chain.fence`): of two copies of one link, only the holder
writes, commits and hands on; the other ends as a duplicate. The holder commits at least every
`checkpoint_seconds`, renewing its lease each time, so a kill loses at most that much work.
"""

from __future__ import annotations

import logging
import resource
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from lambda_workers.chain.budget import TimeBudget
from lambda_workers.chain.chunk_keys import ChunkKey, chain_prefix
from lambda_workers.chain.chunks import ChunkBody, ChunkWriter
from lambda_workers.chain.cursor_store import CursorRecord, CursorStore, parameter_name
from lambda_workers.chain.fence import LEASE_MARGIN_SECONDS, Lease, LeaseLostError, LinkFence, LinkHeldError
from lambda_workers.chain.link_result import LinkResult
from lambda_workers.chain.status import ChainMode, ChainStatus, LinkOutcome, Refresh
from lambda_workers.chain.validation import page_problems
from lambda_workers.events import LinkEvent
from lambda_workers.exceptions import ChainBusyError, LinkBusyError, RetryLaterError
from lambda_workers.sources.base import Page, Source

__all__ = ["ChainRunner", "LambdaContext", "Relay", "new_chain_id"]

logger = logging.getLogger(__name__)


class LambdaContext(Protocol):
    aws_request_id: str
    memory_limit_in_mb: str | int

    def get_remaining_time_in_millis(self) -> int: ...


class Relay(Protocol):
    """Hands the baton on in relay mode: runs the next link asynchronously."""

    def send(self, event: dict[str, Any]) -> None: ...


def new_chain_id(now: datetime) -> str:
    """A chain id that sorts by start time, so readers can tell which of a partition's chains is newest.

    To the microsecond: two chains of one partition started within a second (a refresh right
    after a run) still sort in the order they started.
    """
    return f"{now:%Y%m%dT%H%M%S.%f}Z-{uuid.uuid4().hex[:8]}"


@dataclass
class _Decision:
    record: CursorRecord | None  # None: nothing to run
    fresh: bool  # a new chain (nothing in S3 to clean up)
    outcome: LinkOutcome | None = None  # why nothing runs: SKIPPED, DUPLICATE, SUPERSEDED, HALTED or FINISHED


@dataclass
class _Work:
    """How a link's work ended: the rows it wrote, its outcome and, for RETRY_LATER, the source's reason."""

    rows: int
    outcome: LinkOutcome
    detail: str | None = None


@dataclass
class _Holding:
    """The lease this link holds, and the marks of its last commit: when (for checkpoints) and billed from."""

    lease: Lease
    deadline: float  # epoch seconds: the invocation's own deadline
    committed_at: float  # perf_counter of the last commit (or the link's start)


class ChainRunner:
    def __init__(
        self,
        store: CursorStore,
        writer: ChunkWriter,
        fence: LinkFence,
        relay: Relay | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._store = store
        self._writer = writer
        self._fence = fence
        self._relay = relay
        self._now = now

    def run_link(self, event: LinkEvent, source: Source, context: LambdaContext) -> LinkResult:
        started = time.perf_counter()
        record, halt = self._store.load(event.deployment, event.chain)
        if record is not None and self._committed_but_not_handed_on(event, record, context):
            assert self._relay is not None
            self._relay.send(event.continuation(record.chain_id, record.link + 1))
            detail = f"link {record.link} was committed by this request, which died before handing on: handed on now"
            return self._result(event, record, _Work(0, LinkOutcome.DUPLICATE, detail), started, context)
        decision = self._decide(event, source, record, halt, context)
        if decision.record is None:
            assert decision.outcome is not None, "a decision to run nothing says why"
            return self._result(event, record, _Work(0, decision.outcome), started, context)
        record = decision.record
        if record.link >= event.max_links:
            record.status = ChainStatus.FAILED
            record.last_error = f"max_links {event.max_links} reached with the source not exhausted (runaway guard)"
            self._commit(event, record, started)
            return self._result(event, record, _Work(0, LinkOutcome.MAX_LINKS), started, context)
        try:
            holding = self._claim(event, record, context, started)
        except LinkHeldError as exc:
            if exc.holder.request_id == context.aws_request_id:
                raise LinkBusyError(f"{exc}: an earlier attempt of this request died holding it") from exc
            if event.action == "start" and event.mode == ChainMode.RELAY:
                # A relay start is the chain's only driver: ending as a duplicate would leave a
                # resumed chain where it stood (halted, say) with nothing to move it. Failing lets
                # Lambda retry and then report it, and the watchdog resumes it once the lease clears.
                raise LinkBusyError(f"{exc}: this start waits for it to clear") from exc
            logger.warning("another copy runs this link: %s", exc)
            return self._result(event, record, _Work(0, LinkOutcome.DUPLICATE, str(exc)), started, context)
        record.last_request_id = context.aws_request_id
        record.mode = event.mode  # a relay chain is watched by a sensor, a driven one by its caller
        record.memory_mb = int(context.memory_limit_in_mb)  # with billed_ms: the chain's cost
        if not decision.fresh:
            self._writer.discard_uncommitted(event.prefix, record.chain_id, record.rows)
            self._writer.discard_uncommitted(event.quarantine_prefix, record.chain_id, record.rows)
        budget = TimeBudget(context.get_remaining_time_in_millis, record.page_ms, record.commit_ms)
        try:
            work = self._work(event, source, record, budget, holding)
            return self._finish(event, record, budget, holding, work, started, context)
        except LeaseLostError as exc:
            # This copy outlived its lease and another took the link over: it must not commit.
            logger.warning("lease lost, nothing committed: %s", exc)
            return self._result(event, record, _Work(0, LinkOutcome.DUPLICATE, str(exc)), started, context)

    def _claim(self, event: LinkEvent, record: CursorRecord, context: LambdaContext, started: float) -> _Holding:
        deadline = time.time() + context.get_remaining_time_in_millis() / 1000
        lease = self._fence.claim(
            event.chain, record.chain_id, record.link + 1, context.aws_request_id, deadline + LEASE_MARGIN_SECONDS
        )
        return _Holding(lease, deadline, started)

    def _finish(
        self,
        event: LinkEvent,
        record: CursorRecord,
        budget: TimeBudget,
        holding: _Holding,
        work: _Work,
        started: float,
        context: LambdaContext,
    ) -> LinkResult:
        record.link += 1
        record.page_ms = round(budget.page_ms, 1)
        if record.status == ChainStatus.RUNNING and self._store.halt_requested(event.deployment, event.chain):
            # Asked to stop while this link worked (its caller was terminated, say): keep the
            # work, and leave the chain visibly halted rather than running with nobody driving it.
            record.status = ChainStatus.HALTED
            record.last_error = "halted on request"
        self._commit_held(event, record, budget, holding)
        if record.status == ChainStatus.DONE:
            # After the commit: a chain dying in between lacks only its manifest, and a chain without
            # one supersedes nothing, which costs the lake step reading more, never losing rows.
            self._writer.write_manifest(event.prefix, record)
        self._fence.release(holding.lease, event.chain)
        if self._relay is not None and event.mode == ChainMode.RELAY and record.status == ChainStatus.RUNNING:
            self._relay.send(event.continuation(record.chain_id, record.link + 1))
        return self._result(event, record, work, started, context, pages=budget.pages_this_link)

    def _committed_but_not_handed_on(self, event: LinkEvent, record: CursorRecord, context: LambdaContext) -> bool:
        """A retry of the request whose final commit is the record's last: it died between commit and relay.

        Checkpoints leave `link` unchanged, so a record naming this request with the link this
        event ran (or, for a start, any finished link) can only come from its final commit.
        """
        if self._relay is None or event.mode != ChainMode.RELAY or record.status != ChainStatus.RUNNING:
            return False
        if record.last_request_id != context.aws_request_id:
            return False
        if event.action == "continue":
            return record.chain_id == event.chain_id and record.link == event.link
        return record.link >= 1

    def _decide(
        self, event: LinkEvent, source: Source, record: CursorRecord | None, halt: bool, context: LambdaContext
    ) -> _Decision:
        if event.action == "continue":
            if record is None or record.chain_id != event.chain_id:
                return _Decision(None, False, LinkOutcome.SUPERSEDED)
            if event.link is not None and record.link >= event.link:
                return _Decision(None, False, LinkOutcome.DUPLICATE)
            if record.status != ChainStatus.RUNNING:
                return _Decision(None, False, LinkOutcome.FINISHED)
            if halt:
                return self._halt(event, record)
            return _Decision(record, False)
        if halt:
            if record is None or record.status == ChainStatus.PENDING:
                # Nothing ran yet: the halt flag alone stops it, and the registration (its chain
                # id, its predecessor's cursor) stays for the start that comes after the halt.
                return _Decision(None, False, LinkOutcome.HALTED)
            return self._halt(event, record)
        if record is not None and record.status == ChainStatus.PENDING:
            # Registered by the driver, under the id it chose: a killed first attempt may have
            # written chunks there, so not fresh.
            incremental = record.previous_chain_id is not None and not event.full_refresh
            record.cursor = source.resume_cursor(record.cursor) if incremental else source.initial_cursor()
            record.refresh = Refresh.INCREMENTAL if incremental else Refresh.FULL
            record.status = ChainStatus.RUNNING
            return _Decision(record, False)
        if record is None or event.full_refresh:
            return _Decision(self._new_chain(source.initial_cursor(), Refresh.FULL), True)
        if record.status == ChainStatus.DONE:
            if record.window_closed:
                return _Decision(None, False, LinkOutcome.SKIPPED)
            return _Decision(self._new_chain(source.resume_cursor(record.cursor), Refresh.INCREMENTAL), True)
        if record.status == ChainStatus.RUNNING:
            age = (self._now() - datetime.fromisoformat(record.updated_at)).total_seconds()
            busy_for = 2 * context.get_remaining_time_in_millis() / 1000
            if age < 0:
                raise ChainBusyError(
                    f"chain {record.chain_id} of {event.chain.path()} committed link {record.link} at "
                    f"{record.updated_at}, {-age:.0f} s ahead of this worker's clock (its writer's clock is ahead), "
                    "so it counts as running; halt it first"
                )
            if age < busy_for:
                raise ChainBusyError(
                    f"chain {record.chain_id} of {event.chain.path()} committed link {record.link} {age:.0f} s ago "
                    f"and is still running; halt it first, or wait {busy_for - age:.0f} s"
                )
        record.status = ChainStatus.RUNNING
        record.last_error = None
        return _Decision(record, False)

    def _halt(self, event: LinkEvent, record: CursorRecord) -> _Decision:
        record.status = ChainStatus.HALTED
        record.last_error = "halted on request"
        record.updated_at = self._now().isoformat()
        self._store.commit(event.deployment, event.chain, record)
        return _Decision(None, False, LinkOutcome.HALTED)

    def _new_chain(self, cursor: dict[str, Any], refresh: Refresh) -> CursorRecord:
        now = self._now()
        return CursorRecord(
            chain_id=new_chain_id(now),
            status=ChainStatus.RUNNING,
            cursor=cursor,
            started_at=now.isoformat(),
            updated_at=now.isoformat(),
            refresh=refresh,
        )

    def _work(
        self, event: LinkEvent, source: Source, record: CursorRecord, budget: TimeBudget, holding: _Holding
    ) -> _Work:
        """Fetch and write pages while the budget allows, with a checkpoint every `checkpoint_seconds`.

        Leaves the record ready for the link's final commit.
        """
        record.prefix = chain_prefix(event.prefix, record.chain_id)
        link_rows = 0
        while budget.can_afford_page():
            page_started = time.perf_counter()
            try:
                page = source.fetch(record.cursor)
            except RetryLaterError as exc:
                logger.warning("link ends early: %s", exc)
                return _Work(link_rows, LinkOutcome.RETRY_LATER, str(exc))
            except Exception as exc:
                logger.exception("link failed at cursor %s", record.cursor)
                record.status = ChainStatus.FAILED
                record.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                return _Work(link_rows, LinkOutcome.FAILED)
            self._write_page(event, record, page)
            link_rows += len(page.records)
            budget.observe_page((time.perf_counter() - page_started) * 1000)
            if page.exhausted:
                record.status = ChainStatus.DONE
                record.window_closed = page.window_closed
                return _Work(link_rows, LinkOutcome.EXHAUSTED)
            if page.pause:
                return _Work(link_rows, LinkOutcome.BUDGET_SPENT, "the source waits longer than this link has left")
            if time.perf_counter() - holding.committed_at >= event.checkpoint_seconds:
                self._commit_held(event, record, budget, holding)
        return _Work(link_rows, LinkOutcome.BUDGET_SPENT)

    def _write_page(self, event: LinkEvent, record: CursorRecord, page: Page) -> None:
        if page.records:
            row_from, row_to = record.rows, record.rows + len(page.records)
            body = ChunkBody.of_delivery(page.delivered) if page.delivered else ChunkBody.of_records(page.records)
            self._writer.write(ChunkKey(event.prefix, record.chain_id, row_from, row_to, body.suffix), body)
            rejected = [
                {"row": row_from + index, "reason": problem, "record": page.records[index]}
                for index, problem in page_problems(page.records, event.validation)
            ]
            if rejected:
                quarantine = ChunkKey(event.quarantine_prefix, record.chain_id, row_from, row_to)
                self._writer.write(quarantine, ChunkBody.of_records(rejected))
                logger.warning("quarantined %d of %d records (%s)", len(rejected), len(page.records), quarantine.key)
            record.rows = row_to
            record.bytes += len(body.data)
            record.chunks += 1
            record.quarantined += len(rejected)
        record.cursor = page.next_cursor
        if page.total is not None:
            record.total = page.total

    def _commit_held(self, event: LinkEvent, record: CursorRecord, budget: TimeBudget, holding: _Holding) -> None:
        """Wait for the pages written so far, renew the lease (`LeaseLostError` if another copy has it), commit."""
        self._writer.flush()
        holding.lease = self._fence.renew(holding.lease, event.chain, holding.deadline + LEASE_MARGIN_SECONDS)
        commit_started = self._commit(event, record, holding.committed_at)
        budget.observe_commit((time.perf_counter() - commit_started) * 1000)
        record.commit_ms = round(budget.commit_ms, 1)
        holding.committed_at = commit_started

    def _commit(self, event: LinkEvent, record: CursorRecord, billed_from: float) -> float:
        """Commit the record, billing the time since `billed_from`; return when the commit began."""
        record.updated_at = self._now().isoformat()
        commit_started = time.perf_counter()
        record.billed_ms += int((commit_started - billed_from) * 1000) + 1
        self._store.commit(event.deployment, event.chain, record)
        return commit_started

    def _result(
        self,
        event: LinkEvent,
        record: CursorRecord | None,
        work: _Work,
        started: float,
        context: LambdaContext,
        pages: int = 0,
    ) -> LinkResult:
        return LinkResult.after_link(
            record,
            parameter=parameter_name(event.deployment, event.chain),
            outcome=work.outcome,
            detail=work.detail,
            link_rows=work.rows,
            link_pages=pages,
            link_ms=round((time.perf_counter() - started) * 1000, 1),
            memory_mb=int(context.memory_limit_in_mb),
            max_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        )
