"""How many relay chains run at once under an AWS account's quotas, and which quota stops them first.

Every running chain spends four things: Parameter Store calls (its cursor commits and reads, and
its share of the sensors' listings), a Lambda concurrency slot (one link at a time, always), and,
in driven mode, a Dagster run slot, a slot of its vendor's pool and the vCPU of the ECS task its
run lives in, for the chain's whole life. A relay chain holds a run only while its start run
registers it and invokes the first link.

This is the closed form (`quota_limits`, `binding_quota`, `max_concurrent_chains`): each quota's
demand per chain in the steady state, from the call counts of the chain protocol (`link_calls`,
`START_CALLS`, `listing_calls`, which a test counts on the real runner and cursor store).
`platform_defs.capacity_simulation` checks it on a virtual clock, with what it leaves out:
bursts, retries, the time it takes to start the chains.

The quotas are one account's and region's; `Quotas.accounts` splits the chains over several, each
with the same AWS quotas and one Dagster instance for all. `baton capacity` prints the default
figures and the changes that go 10x and 100x beyond them; `--simulate` runs the simulation
below and above each bound.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from lambda_workers.chain.status import ChainMode
from lambda_workers.events import DEFAULT_CHECKPOINT_SECONDS
from platform_defs.instance_config import CHAINS_PER_SOURCE, MAX_CONCURRENT_RUNS

__all__ = [
    "DEFAULT_WORKLOADS",
    "OPERATION_KINDS",
    "SCALE_UPS",
    "START_CALLS",
    "Binding",
    "CallKind",
    "Quota",
    "Quotas",
    "Scenario",
    "SsmCalls",
    "Workload",
    "binding_quota",
    "capacity_report",
    "checkpoints_per_link",
    "link_calls",
    "listing_calls",
    "main",
    "max_concurrent_chains",
    "quota_limits",
    "ramp_seconds",
    "scale_up_report",
    "ssm_demand",
]


class CallKind(StrEnum):
    """The SSM calls Baton makes, grouped as Parameter Store's throughput quotas group them."""

    READ = "read"  # GetParameter, GetParameters
    WRITE = "write"  # PutParameter, DeleteParameter
    LISTING = "listing"  # GetParametersByPath


OPERATION_KINDS: Mapping[str, CallKind] = {
    "GetParameter": CallKind.READ,
    "GetParameters": CallKind.READ,
    "PutParameter": CallKind.WRITE,
    "DeleteParameter": CallKind.WRITE,
    "GetParametersByPath": CallKind.LISTING,
}
"""Each SSM operation Baton calls (as botocore names it) and the kind of call it counts as."""


class Quota(StrEnum):
    SSM = "SSM throughput"
    SSM_READS = "SSM GetParameter(s) throughput"
    SSM_WRITES = "SSM PutParameter throughput"
    SSM_LISTINGS = "SSM GetParametersByPath throughput"
    SSM_PARAMETERS = "SSM standard parameters"
    LAMBDA = "Lambda concurrency"
    FARGATE = "Fargate On-Demand vCPU"
    RUNS = "Dagster max_concurrent_runs"
    POOL = "Dagster pool per source"


@dataclass(frozen=True)
class SsmCalls:
    """A number of SSM calls of each kind."""

    reads: int = 0
    writes: int = 0
    listings: int = 0

    def of(self, kind: CallKind) -> int:
        return {CallKind.READ: self.reads, CallKind.WRITE: self.writes, CallKind.LISTING: self.listings}[kind]


START_CALLS = SsmCalls(reads=1, writes=2)
"""A chain start (`ChainResource.launch` or `.drive`): clear the halt flag (DeleteParameter), then
`register` reads the record (GetParameters) and commits the pending one (PutParameter)."""


def link_calls(checkpoints: int) -> SsmCalls:
    """One link of a running chain that commits `checkpoints` times before its final commit.

    `ChainRunner.run_link` reads the record with the halt flag (GetParameters), commits at each
    checkpoint (PutParameter), checks the halt flag again before its final commit (GetParameters)
    and commits (PutParameter). A chain's last link skips that second read; a cold environment
    reads its vendor secret once (GetParameter): both are too rare to count here.
    """
    return SsmCalls(reads=2, writes=1 + checkpoints)


@dataclass(frozen=True)
class Quotas:
    """The limits a chain runs into, per AWS account and region (Dagster's are one instance's).

    SSM: Parameter Store's default throughput, 40 transactions per second per account and region,
    is one bucket shared by GetParameter, GetParameters and GetParametersByPath (AWS's quota
    table); AWS's API reference says the throughput setting covers PutParameter too, so Baton's
    writes (PutParameter, DeleteParameter) are counted in it as well, as the local stack's
    throttle does. A `ssm_*_tps` left None shares `ssm_tps`; set, that kind has a bucket of its own
    (`higher_throughput`). `ssm_parameters`: the standard tier's 10,000 parameters, which hold
    every chain's record.

    Lambda: 1,000 concurrent executions per account and region. ECS: the Fargate On-Demand vCPU
    quota, 6 vCPU by default (new accounts may start lower; older accounts often show more), and
    the vCPU of the run task definition (the deployer's choice: 1 vCPU assumed). Dagster:
    `max_concurrent_runs` and the per-source pool limit that Baton's instance config writes.
    Fargate is no queue: Dagster launches up to `max_concurrent_runs` runs, and one launched past
    the vCPU quota fails to start (the simulation queues it instead, so that it can count on).
    """

    ssm_tps: float = 40.0
    ssm_read_tps: float | None = None
    ssm_write_tps: float | None = None
    ssm_listing_tps: float | None = None
    ssm_parameters: int = 10_000
    lambda_concurrency: int = 1000
    fargate_vcpu: float = 6.0
    service_vcpu: float = 2.0
    run_task_vcpu: float = 1.0
    max_concurrent_runs: int = MAX_CONCURRENT_RUNS
    pool_limit: int = CHAINS_PER_SOURCE
    accounts: int = 1

    @classmethod
    def higher_throughput(cls) -> Quotas:
        """Parameter Store's paid higher-throughput setting: reads and listings get buckets of their own.

        10,000 TPS shared by GetParameter and GetParameters and 100 TPS of GetParametersByPath
        (AWS's quota table; it said 3,000 for the reads in 2022, which changes nothing here: Baton
        reads twice a link). No higher figure for PutParameter is documented, so the writes keep
        the default 40 TPS; an account whose Service Quotas show more sets `ssm_write_tps`.
        """
        return cls(ssm_read_tps=10_000.0, ssm_listing_tps=100.0)

    @property
    def run_tasks(self) -> int:
        """How many run tasks the Fargate vCPU quota holds at once, beside the webserver and the daemon."""
        return max(0, math.floor((self.fargate_vcpu - self.service_vcpu) / self.run_task_vcpu + 1e-9))

    def bucket(self, kind: CallKind) -> tuple[Quota, float]:
        """The throughput quota a call of `kind` draws on, and its rate."""
        own = {
            CallKind.READ: (Quota.SSM_READS, self.ssm_read_tps),
            CallKind.WRITE: (Quota.SSM_WRITES, self.ssm_write_tps),
            CallKind.LISTING: (Quota.SSM_LISTINGS, self.ssm_listing_tps),
        }[kind]
        return (own[0], own[1]) if own[1] is not None else (Quota.SSM, self.ssm_tps)


@dataclass(frozen=True)
class Workload:
    """What the chains do: their mode, links and checkpoints, and what the platform does around them.

    The sensors `relay_chains` and `chain_watchdog` each list every record of the deployment
    (`CursorStore.records`, GetParametersByPath, at most 10 records a page) on every tick (30 s):
    finished chains' records are listed too, and count against `Quotas.ssm_parameters`. A driven
    run drives `chains_per_run` chains (the shards of one partition, up to its
    `max_concurrent_shards`); chains spread evenly over `sources` vendors, each with its own
    pool. `run_start_seconds` is how long a run takes from launch to its first step (Fargate
    provisioning, the image, the code location): a start run holds its slot that long.
    """

    mode: ChainMode = ChainMode.RELAY
    link_seconds: float = 900.0
    checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS
    sensor_tick_seconds: float = 30.0
    records_per_page: int = 10
    listings_per_tick: int = 2
    finished_records: int = 0
    sources: int = 1
    chains_per_run: int = 1
    run_start_seconds: float = 60.0

    def __post_init__(self) -> None:
        if not 0 < self.link_seconds <= 900:
            raise ValueError(f"link_seconds {self.link_seconds} is not within Lambda's 15 minutes")
        if not 0 < self.checkpoint_seconds <= 900:
            raise ValueError(f"checkpoint_seconds {self.checkpoint_seconds} is not above 0 and at most 900")
        if self.mode == ChainMode.RELAY and self.chains_per_run != 1:
            raise ValueError("a relay run starts one chain: shards are driven")
        names = ("sensor_tick_seconds", "records_per_page", "listings_per_tick", "sources", "chains_per_run")
        for name in (*names, "run_start_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    @property
    def label(self) -> str:
        every = self.checkpoint_seconds
        checkpoints = "" if every == DEFAULT_CHECKPOINT_SECONDS else f", a checkpoint every {every:g} s"
        return f"{self.mode}, {self.link_seconds:g} s links{checkpoints}"


def checkpoints_per_link(workload: Workload) -> int:
    """Commits before the final one: the runner commits once `checkpoint_seconds` have passed since the last."""
    return max(0, math.ceil(workload.link_seconds / workload.checkpoint_seconds - 1e-9) - 1)


def listing_calls(records: int, workload: Workload) -> int:
    """GetParametersByPath calls (pages) one listing of `records` records makes."""
    return math.ceil(records / workload.records_per_page)


def _per_account(chains: int, quotas: Quotas) -> int:
    return math.ceil(chains / quotas.accounts)


def ssm_demand(quotas: Quotas, workload: Workload, chains: int) -> dict[Quota, float]:
    """SSM calls per second on each throughput quota of one account, with `chains` chains running in all.

    The steady state: every chain is in a link all the time, and starts are too rare to count.
    """
    running = _per_account(chains, quotas)
    per_link = link_calls(checkpoints_per_link(workload))
    tick = workload.listings_per_tick * listing_calls(running + workload.finished_records, workload)
    rates = {
        CallKind.READ: running * per_link.reads / workload.link_seconds,
        CallKind.WRITE: running * per_link.writes / workload.link_seconds,
        CallKind.LISTING: tick / workload.sensor_tick_seconds,
    }
    demand: dict[Quota, float] = {}
    for kind, rate in rates.items():
        quota, _ = quotas.bucket(kind)
        demand[quota] = demand.get(quota, 0.0) + rate
    return demand


def _ssm_limits(quotas: Quotas, workload: Workload) -> dict[Quota, int]:
    """For each SSM throughput quota, the most chains whose demand it serves (demand grows with chains)."""
    rates = {quota: rate for quota, rate in (quotas.bucket(kind) for kind in CallKind)}
    limits: dict[Quota, int] = {}
    for quota, rate in rates.items():

        def fits(chains: int, quota: Quota = quota, rate: float = rate) -> bool:
            return ssm_demand(quotas, workload, chains * quotas.accounts).get(quota, 0.0) <= rate

        if not fits(0):
            limits[quota] = 0
            continue
        low, high = 0, 1
        while fits(high):
            low, high = high, high * 2
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if fits(middle) else (low, middle)
        limits[quota] = low * quotas.accounts
    return limits


def quota_limits(quotas: Quotas, workload: Workload) -> dict[Quota, int]:
    """Each quota's most concurrent chains, fewest first; quotas a mode does not hold (relay: runs) are left out."""
    limits = _ssm_limits(quotas, workload)
    limits[Quota.SSM_PARAMETERS] = max(0, quotas.ssm_parameters - workload.finished_records) * quotas.accounts
    limits[Quota.LAMBDA] = quotas.lambda_concurrency * quotas.accounts
    if workload.mode == ChainMode.DRIVEN:
        limits[Quota.RUNS] = quotas.max_concurrent_runs * workload.chains_per_run
        limits[Quota.FARGATE] = quotas.run_tasks * workload.chains_per_run
        limits[Quota.POOL] = quotas.pool_limit * workload.sources * workload.chains_per_run
    return dict(sorted(limits.items(), key=lambda item: (item[1], list(Quota).index(item[0]))))


@dataclass(frozen=True)
class Binding:
    """The quota that stops more chains from running, and the most chains it allows."""

    quota: Quota
    chains: int


def binding_quota(quotas: Quotas, workload: Workload) -> Binding:
    quota, chains = next(iter(quota_limits(quotas, workload).items()))
    return Binding(quota, chains)


def max_concurrent_chains(quotas: Quotas, workload: Workload) -> int:
    return binding_quota(quotas, workload).chains


def _start_slots(quotas: Quotas) -> int:
    """Runs that can be starting at once: Dagster's run slots, or fewer if Fargate holds fewer tasks."""
    return min(quotas.max_concurrent_runs, quotas.run_tasks)


def ramp_seconds(quotas: Quotas, workload: Workload, chains: int) -> float:
    """How long it takes, on average, until `chains` chains released at once are all in their first link.

    Every start is a Dagster run: relay chains start `min(max_concurrent_runs, run tasks)` at a time,
    each run holding its slot for `run_start_seconds` (the simulation draws each between half and
    one and a half times that). Driven runs keep their slots, so chains past
    the driven limit never start (infinity).
    """
    if workload.mode == ChainMode.DRIVEN:
        return workload.run_start_seconds if chains <= max_concurrent_chains(quotas, workload) else math.inf
    slots = _start_slots(quotas)
    return math.ceil(chains / slots) * workload.run_start_seconds if slots else math.inf


def _describe(quota: Quota, quotas: Quotas, workload: Workload) -> str:
    """A quota with the figure that sets it, as the report prints it."""
    accounts = f" x {quotas.accounts} accounts" if quotas.accounts > 1 else ""
    rates = {
        Quota.SSM: quotas.ssm_tps,
        Quota.SSM_READS: quotas.ssm_read_tps,
        Quota.SSM_WRITES: quotas.ssm_write_tps,
        Quota.SSM_LISTINGS: quotas.ssm_listing_tps,
    }
    if quota in rates:
        return f"{quota} ({rates[quota]:,g} TPS{accounts})"
    figures = {
        Quota.SSM_PARAMETERS: f"{quotas.ssm_parameters:,}{accounts}",
        Quota.LAMBDA: f"{quotas.lambda_concurrency:,}{accounts}",
        Quota.FARGATE: f"{quotas.fargate_vcpu:g} vCPU: {quotas.run_tasks} tasks of {quotas.run_task_vcpu:g} vCPU",
        Quota.RUNS: f"{quotas.max_concurrent_runs}",
        Quota.POOL: f"{quotas.pool_limit} x {workload.sources} source{'s' if workload.sources > 1 else ''}",
    }
    return f"{quota} ({figures[quota]})"


def capacity_report(quotas: Quotas, workloads: Sequence[Workload]) -> str:
    """A Markdown table: for each workload, the chains the quotas allow, the quota that binds, and the next one."""
    lines = ["| workload | chains allowed | binding quota | next quota |", "| --- | ---: | --- | --- |"]
    for workload in workloads:
        (first, allowed), (second, then) = itertools.islice(quota_limits(quotas, workload).items(), 2)
        lines.append(
            f"| {workload.label} | {allowed:,} | {_describe(first, quotas, workload)} "
            f"| {_describe(second, quotas, workload)} at {then:,} |"
        )
    return "\n".join(lines)


DEFAULT_WORKLOADS: tuple[Workload, ...] = tuple(
    Workload(mode=mode, link_seconds=seconds)
    for mode in (ChainMode.RELAY, ChainMode.DRIVEN)
    for seconds in (900.0, 60.0, 5.0)
)
"""Both modes with the function's longest links, minute links and the demo's short ones."""


@dataclass(frozen=True)
class Scenario:
    """A set of changes to the defaults, and how far it takes a workload beyond `baseline` at default quotas."""

    name: str
    changes: tuple[str, ...]
    quotas: Quotas
    workload: Workload
    baseline: Workload
    factor: int  # the scale it sets out to reach

    def chains(self) -> int:
        return max_concurrent_chains(self.quotas, self.workload)

    def gain(self) -> float:
        return self.chains() / max_concurrent_chains(Quotas(), self.baseline)


_RELAY = Workload()
_DRIVEN = Workload(mode=ChainMode.DRIVEN)
_RELAY_10X_QUOTAS = replace(
    Quotas.higher_throughput(), lambda_concurrency=10_000, max_concurrent_runs=20, fargate_vcpu=20.0
)
_RELAY_10X = replace(_RELAY, checkpoint_seconds=300.0)

SCALE_UPS: tuple[Scenario, ...] = (
    Scenario(
        "relay 10x",
        (
            "Parameter Store higher throughput (paid per API interaction)",
            "Lambda concurrent executions 10,000 (Service Quotas request)",
            "CheckpointSeconds 300 (3 commits a 900 s link)",
            "MaxConcurrentRuns 20 and Fargate 20 vCPU, so that they all start within a day",
        ),
        _RELAY_10X_QUOTAS,
        _RELAY_10X,
        _RELAY,
        10,
    ),
    Scenario(
        "relay 100x",
        (
            "relay 10x in each of 10 accounts or regions (a deployment each)",
            "MaxConcurrentRuns 100 and Fargate 100 vCPU, for the start runs",
        ),
        replace(_RELAY_10X_QUOTAS, accounts=10, max_concurrent_runs=100, fargate_vcpu=100.0),
        _RELAY_10X,
        _RELAY,
        100,
    ),
    Scenario(
        "driven 10x",
        (
            "4 shards a run (max_concurrent_shards)",
            "ChainsPerSource 10, MaxConcurrentRuns 10",
            "Fargate On-Demand vCPU 16 (Service Quotas request)",
        ),
        Quotas(pool_limit=10, max_concurrent_runs=10, fargate_vcpu=16.0),
        replace(_DRIVEN, chains_per_run=4),
        _DRIVEN,
        10,
    ),
    Scenario(
        "driven 100x",
        ("relay mode instead (run config `mode: relay`): a running chain holds no run", "default quotas"),
        Quotas(),
        _RELAY,
        _DRIVEN,
        100,
    ),
)
"""The changes the README names for going 10x and 100x past the default chain counts."""


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "never"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def scale_up_report(scenarios: Sequence[Scenario]) -> str:
    """A Markdown table of the scale-ups: their changes, the chains they allow, what binds, how long starting takes."""
    lines = [
        "| scale-up | changes | chains allowed | x default | then binds | SSM calls/s | all started after |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: |",
    ]
    for scenario in scenarios:
        quotas, workload = scenario.quotas, scenario.workload
        binding = binding_quota(quotas, workload)
        calls = sum(ssm_demand(quotas, workload, binding.chains).values()) * quotas.accounts
        ramp = ramp_seconds(quotas, workload, binding.chains)
        lines.append(
            f"| {scenario.name} | {'; '.join(scenario.changes)} | {binding.chains:,} | {scenario.gain():.1f} "
            f"| {_describe(binding.quota, quotas, workload)} | {calls:,.0f} | {_duration(ramp)} |"
        )
    return "\n".join(lines)


def main(simulated: bool = False) -> None:
    """Print the default figures and the scale-ups; with `simulated`, the simulation's check of each bound too."""
    print(capacity_report(Quotas(), DEFAULT_WORKLOADS))
    print()
    print(scale_up_report(SCALE_UPS))
    if simulated:
        from platform_defs.capacity_simulation import simulation_report

        print()
        print(simulation_report(Quotas(), DEFAULT_WORKLOADS))
