"""The capacity model checked on a virtual clock: chains, their links and every SSM call, as events.

A deterministic discrete-event simulation: chains released staggered, start runs queued for
Dagster's run slots and ECS tasks, links queued for Lambda slots, each SSM call taking a token
from its bucket or being retried with botocore's standard backoff, which stretches the link. It
shows what the closed form in `platform_defs.capacity` leaves out (bursts when two sensors page
through every record at once, the retries, the time it takes to start the chains), and the
tests hold the two to each other: below a bound nothing saturates, above it the binding quota
does. `baton capacity --simulate` prints that check for each default workload.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from lambda_workers.chain.status import ChainMode
from platform_defs.capacity import (
    START_CALLS,
    CallKind,
    Quota,
    Quotas,
    Workload,
    checkpoints_per_link,
    listing_calls,
    max_concurrent_chains,
    ramp_seconds,
)

__all__ = ["Simulation", "simulate", "simulation_report"]

SSM_CALL_SECONDS = 0.03
"""How long one SSM call takes. A listing pages sequentially, so this spreads its calls over time."""

MAX_ATTEMPTS = 10
"""botocore's standard retry mode as the workers and the platform configure it (`max_attempts`)."""

MAX_BACKOFF_SECONDS = 20.0
"""botocore's standard mode: attempt n waits a uniformly random time up to min(2 ** (n - 1), 20) s."""

HAND_OFF_SECONDS = 1.0
"""At most this long between a link's end and its successor's start (an invoke, an environment): drawn at random."""

SATURATED_UTILISATION = 0.9
"""An SSM bucket serving this share of its rate, or more, over the window counts as saturated.

Not "throttled at all": two sensors paging through every record at the same moment throttle a
few calls in bursts well below the sustained limit, and the retries absorb them within seconds.
"""


@dataclass(frozen=True)
class Simulation:
    """What one simulated run of `chains` chains achieved, measured once they are all started.

    The measurement window opens when the last chain's first link begins (or, if some never can,
    once the ramp should have ended) and lasts two links, or four sensor ticks if longer. Useful
    work is link time outside SSM calls and their retries: unthrottled, `work_rate` is about
    `chains`; each throttled call stretches its link and lowers it.
    """

    chains: int
    started: int
    ramp_seconds: float | None
    window_seconds: float
    work_rate: float
    ssm_attempts: int
    throttled_fraction: float
    throttled: Mapping[Quota, float]  # per SSM throughput quota: the share of its calls throttled
    utilisation: Mapping[Quota, float]  # per SSM throughput quota: calls served over its rate (busiest account)
    failed_calls: int
    peak_lambda: int
    peak_run_tasks: int
    saturated: tuple[Quota, ...]

    @property
    def efficiency(self) -> float:
        """Useful link-seconds per second per chain: 1.0 means no chain waited on anything."""
        return self.work_rate / self.chains if self.chains else 0.0


@dataclass(frozen=True)
class _Wait:
    seconds: float
    work: bool = False  # the link's own work (counted as useful), or time spent waiting


@dataclass(frozen=True)
class _Call:
    """An SSM call on the bucket of its kind in its account (`_Run.call`)."""

    bucket: _Bucket


@dataclass(frozen=True)
class _Execution:
    """A Lambda execution slot in `account`, for one link."""

    account: int


@dataclass(frozen=True)
class _Acquire:
    """A run's slots, all at once: its run slot, its task and, driven, its source's pool."""

    slots: tuple[_Slots, ...]


_Request = _Wait | _Call | _Execution | _Acquire
_Process = Generator[_Request, None, None]


@dataclass(eq=False)
class _Slots:
    """A quota counted in slots (Lambda executions, run slots, tasks, a pool): taken and given back."""

    quota: Quota
    capacity: int
    used: int = 0
    peak: int = 0

    def take(self) -> None:
        self.used += 1
        self.peak = max(self.peak, self.used)


@dataclass(eq=False)
class _Bucket:
    """An SSM throughput quota as a token bucket: `rate` tokens a second, holding at most one second's worth."""

    quota: Quota
    rate: float
    capacity: float = 0.0
    tokens: float = 0.0
    refilled_at: float = 0.0
    attempts: int = 0  # within the window, as are the throttles
    throttles: int = 0

    def __post_init__(self) -> None:
        self.capacity = self.tokens = max(1.0, self.rate)

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.refilled_at) * self.rate)
        self.refilled_at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


@dataclass
class _Waiter:
    process: _Process
    slots: tuple[_Slots, ...]


@dataclass
class _Run:
    """The state of one simulation: the clock, the event queue, the quotas' buckets and slots."""

    workload: Workload
    chains: int
    rng: random.Random
    window_start: float
    measure: float
    now: float = 0.0
    events: list[tuple[float, int, Callable[[], None]]] = field(default_factory=list)
    order: itertools.count[int] = field(default_factory=itertools.count)
    buckets: list[_Bucket] = field(default_factory=list)
    calls: list[dict[CallKind, _Call]] = field(default_factory=list)  # by account, then kind
    lambdas: list[_Slots] = field(default_factory=list)
    lambda_waiters: list[deque[_Process]] = field(default_factory=list)
    run_waiters: list[_Waiter] = field(default_factory=list)
    registered: list[int] = field(default_factory=list)
    blocked: set[Quota] = field(default_factory=set)
    started: int = 0
    ramp: float | None = None
    work: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of each stretch of link work
    failed_calls: int = 0

    @property
    def window_end(self) -> float:
        return self.window_start + self.measure

    def in_window(self) -> bool:
        return self.window_start <= self.now <= self.window_end

    def call(self, kind: CallKind, account: int) -> _Call:
        return self.calls[account][kind]

    def schedule(self, delay: float, action: Callable[[], None]) -> None:
        heapq.heappush(self.events, (self.now + delay, next(self.order), action))

    def spawn(self, process: _Process, delay: float = 0.0) -> None:
        self.schedule(delay, partial(self.resume, process))

    def resume(self, process: _Process) -> None:
        try:
            request = next(process)
        except StopIteration:
            return
        if isinstance(request, _Wait):
            if request.work:
                self.work.append((self.now, self.now + request.seconds))
            self.spawn(process, request.seconds)
        elif isinstance(request, _Call):
            self._attempt(process, request, 1)
        elif isinstance(request, _Execution):
            self._execute(process, request.account)
        else:
            self._acquire(process, request.slots)

    def _attempt(self, process: _Process, call: _Call, attempt: int) -> None:
        bucket = call.bucket
        granted = bucket.take(self.now)
        if self.in_window():
            bucket.attempts += 1
            bucket.throttles += 0 if granted else 1
        if granted:
            self.spawn(process, SSM_CALL_SECONDS)
        elif attempt == MAX_ATTEMPTS:
            # The link would fail here and be re-run from its last commit: counted, and the chain goes on.
            self.failed_calls += 1
            self.spawn(process, SSM_CALL_SECONDS)
        else:
            backoff = min(MAX_BACKOFF_SECONDS, self.rng.random() * 2 ** (attempt - 1))
            self.schedule(SSM_CALL_SECONDS + backoff, partial(self._attempt, process, call, attempt + 1))

    def _execute(self, process: _Process, account: int) -> None:
        lambdas = self.lambdas[account]
        if lambdas.used < lambdas.capacity:
            lambdas.take()
            self.spawn(process)
        else:
            self._block((lambdas,))
            self.lambda_waiters[account].append(process)

    def _acquire(self, process: _Process, slots: tuple[_Slots, ...]) -> None:
        if all(slot.used < slot.capacity for slot in slots):
            for slot in slots:
                slot.take()
            self.spawn(process)
        else:
            self._block(slots)
            self.run_waiters.append(_Waiter(process, slots))

    def _block(self, slots: tuple[_Slots, ...]) -> None:
        if self.in_window():
            self.blocked.update(slot.quota for slot in slots if slot.used >= slot.capacity)

    def release_lambda(self, account: int) -> None:
        waiters = self.lambda_waiters[account]
        if waiters:
            self.spawn(waiters.popleft())  # the slot passes straight to the next link in line
        else:
            self.lambdas[account].used -= 1

    def release_run(self, slots: tuple[_Slots, ...]) -> None:
        for slot in slots:
            slot.used -= 1
        admitted: list[_Waiter] = []
        for waiter in self.run_waiters:
            if all(slot.used < slot.capacity for slot in waiter.slots):
                for slot in waiter.slots:
                    slot.take()
                admitted.append(waiter)
                self.spawn(waiter.process)
            if any(slot.used >= slot.capacity for slot in slots if slot.quota != Quota.POOL):
                break  # every run needs a run slot and a task: nothing further in line can start
        for waiter in admitted:
            self.run_waiters.remove(waiter)

    def useful_seconds(self) -> float:
        """Link work done within the window (known only at the end: the window opens when the last chain starts)."""
        start, end = self.window_start, self.window_end
        return sum(max(0.0, min(stop, end) - max(begin, start)) for begin, stop in self.work)

    def first_link_began(self) -> None:
        self.started += 1
        if self.started == self.chains:
            self.ramp = self.now
            self.window_start = min(self.window_start, self.now)


def _link(run: _Run, account: int, first: bool) -> _Process:
    """One link: a Lambda slot for its work, its reads and commits (`link_calls`), the slot given back."""
    workload = run.workload
    checkpoints = checkpoints_per_link(workload)
    read, write = run.call(CallKind.READ, account), run.call(CallKind.WRITE, account)
    between = _Wait(workload.checkpoint_seconds, work=True)
    yield _Execution(account)
    if first:
        run.first_link_began()
    yield read
    for _ in range(checkpoints):
        yield between
        yield write
    yield _Wait(workload.link_seconds - checkpoints * workload.checkpoint_seconds, work=True)
    yield read
    yield write
    run.release_lambda(account)
    yield _Wait(run.rng.uniform(0.0, HAND_OFF_SECONDS))


def _start(run: _Run, account: int) -> _Process:
    """A chain's start (`START_CALLS`): its record registered, so the sensors list it from now on."""
    for kind in CallKind:
        for _ in range(START_CALLS.of(kind)):
            yield run.call(kind, account)
    run.registered[account] += 1


def _links(run: _Run, account: int) -> _Process:
    """A started chain's links, one after the other, until the simulation ends."""
    yield from _link(run, account, first=True)
    while True:
        yield from _link(run, account, first=False)


def _driven_chain(run: _Run, account: int) -> _Process:
    yield from _start(run, account)
    yield from _links(run, account)


def _start_run(run: _Run, slots: tuple[_Slots, ...], accounts: Sequence[int]) -> _Process:
    """A Dagster run on ECS: queued for its slots, started, then starting its chains.

    A relay run's step starts its one chain, which then hands on by itself: the run ends there and
    gives its slots back. A driven run drives its chains (one, or the shards of a partition) for
    their whole life and keeps its slots.
    """
    yield _Acquire(slots)
    yield _Wait(run.rng.uniform(0.5, 1.5) * run.workload.run_start_seconds)
    if run.workload.mode == ChainMode.RELAY:
        yield from _start(run, accounts[0])
        run.release_run(slots)
        yield from _links(run, accounts[0])
    else:
        for account in accounts:
            run.spawn(_driven_chain(run, account))


def _listings(run: _Run, account: int) -> _Process:
    """One sensor of one deployment: every tick, the whole chain listing, page after page."""
    workload = run.workload
    listing = run.call(CallKind.LISTING, account)
    while True:
        tick = run.now
        for _ in range(listing_calls(run.registered[account] + workload.finished_records, workload)):
            yield listing
        yield _Wait(max(0.0, tick + workload.sensor_tick_seconds - run.now))


def simulate(quotas: Quotas, workload: Workload, chains: int, seed: int = 0) -> Simulation:
    """Run `chains` chains, released evenly over one link's length, on a virtual clock: same inputs, same result.

    Nothing sleeps and no wall clock is read: events (a link's work ending, a call retried, a
    slot freed) are taken in time order from a queue, and the retries' jitter comes from a
    random generator seeded with `seed`.
    """
    measure = max(2 * workload.link_seconds, 4 * workload.sensor_tick_seconds)
    ramp = ramp_seconds(quotas, workload, chains)
    # The window opens once the last chain is in its first link, and at the latest by when it should be.
    cap = 2 * workload.link_seconds + 1.5 * (ramp if math.isfinite(ramp) else workload.run_start_seconds)
    run = _Run(workload, chains, random.Random(seed), window_start=cap, measure=measure)
    run.lambdas = [_Slots(Quota.LAMBDA, quotas.lambda_concurrency) for _ in range(quotas.accounts)]
    run.lambda_waiters = [deque() for _ in range(quotas.accounts)]
    run.registered = [0] * quotas.accounts
    for _ in range(quotas.accounts):
        own = {quota: _Bucket(quota, rate) for quota, rate in (quotas.bucket(kind) for kind in CallKind)}
        run.buckets += own.values()
        run.calls.append({kind: _Call(own[quotas.bucket(kind)[0]]) for kind in CallKind})
    runs = _Slots(Quota.RUNS, quotas.max_concurrent_runs)
    tasks = _Slots(Quota.FARGATE, quotas.run_tasks)
    pools = [_Slots(Quota.POOL, quotas.pool_limit) for _ in range(workload.sources)]
    for account in range(quotas.accounts):
        for _ in range(workload.listings_per_tick):
            run.spawn(_listings(run, account))
    per_run = workload.chains_per_run
    run_count = math.ceil(chains / per_run)
    for index in range(run_count):
        members = [chain % quotas.accounts for chain in range(index * per_run, min(chains, (index + 1) * per_run))]
        slots = (runs, tasks) if workload.mode == ChainMode.RELAY else (pools[index % workload.sources], runs, tasks)
        run.spawn(_start_run(run, slots, members), index * workload.link_seconds / run_count)
    events = run.events
    while events and events[0][0] <= run.window_start + measure:
        when, _, action = heapq.heappop(events)
        run.now = when
        action()
    if any(run.lambda_waiters):
        run.blocked.add(Quota.LAMBDA)
    for waiter in run.run_waiters:
        run.blocked.update(slot.quota for slot in waiter.slots if slot.used >= slot.capacity)
    attempts: dict[Quota, int] = {}
    throttles: dict[Quota, int] = {}
    utilisation: dict[Quota, float] = {}
    for bucket in run.buckets:
        attempts[bucket.quota] = attempts.get(bucket.quota, 0) + bucket.attempts
        throttles[bucket.quota] = throttles.get(bucket.quota, 0) + bucket.throttles
        served = (bucket.attempts - bucket.throttles) / (bucket.rate * measure)
        utilisation[bucket.quota] = max(utilisation.get(bucket.quota, 0.0), served)
    saturated = {quota for quota, share in utilisation.items() if share >= SATURATED_UTILISATION} | run.blocked
    all_attempts = sum(attempts.values())
    return Simulation(
        chains=chains,
        started=run.started,
        ramp_seconds=run.ramp,
        window_seconds=measure,
        work_rate=run.useful_seconds() / measure,
        ssm_attempts=all_attempts,
        throttled_fraction=sum(throttles.values()) / all_attempts if all_attempts else 0.0,
        throttled={quota: throttles[quota] / count for quota, count in attempts.items() if count},
        utilisation=utilisation,
        failed_calls=run.failed_calls,
        peak_lambda=max(slots.peak for slots in run.lambdas),
        peak_run_tasks=tasks.peak,
        saturated=tuple(quota for quota in Quota if quota in saturated),
    )


def simulation_report(quotas: Quotas, workloads: Sequence[Workload]) -> str:
    """A Markdown table: each workload simulated at 80 % and at 125 % of its bound, and what saturated."""
    lines = [
        "| workload | bound | chains simulated | started | saturated | SSM calls throttled | efficiency |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for workload in workloads:
        bound = max_concurrent_chains(quotas, workload)
        for chains in (max(1, math.floor(bound * 0.8)), math.ceil(bound * 1.25)):
            run = simulate(quotas, workload, chains)
            saturated = ", ".join(run.saturated) or "nothing"
            lines.append(
                f"| {workload.label} | {bound:,} | {chains:,} | {run.started:,} | {saturated} "
                f"| {run.throttled_fraction:.1%} | {run.efficiency:.2f} |"
            )
    return "\n".join(lines)
