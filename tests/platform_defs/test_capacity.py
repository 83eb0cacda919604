"""The capacity model: its call counts against the real runner and cursor store, its closed form against its simulation.

The counts are taken on a real link (the runner, the cursor store, the fence, the chunk writer)
against moto in this process, with botocore's `before-call` hook counting each SSM operation: the
session's local stack would do as well, but starting it takes longer than this whole file may.
A link's checkpoints are set by `checkpoint_seconds` and its pages by `PagesContext`, never by the
machine's speed. The simulations run on a virtual clock, so none of them depends on it either.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from lambda_workers.chain.chunks import ChunkWriter
from lambda_workers.chain.cursor_store import CursorRecord, SsmCursorStore
from lambda_workers.chain.fence import LinkFence
from lambda_workers.chain.runner import ChainRunner
from lambda_workers.chain.status import ChainMode, ChainStatus, LinkOutcome
from lambda_workers.events import ChainAddress, parse_event
from lambda_workers.sources import SourceContext, build_source
from platform_defs.capacity import (
    DEFAULT_WORKLOADS,
    OPERATION_KINDS,
    SCALE_UPS,
    CallKind,
    Quota,
    Quotas,
    SsmCalls,
    Workload,
    binding_quota,
    capacity_report,
    checkpoints_per_link,
    link_calls,
    listing_calls,
    max_concurrent_chains,
    quota_limits,
    ramp_seconds,
    scale_up_report,
)
from platform_defs.capacity_simulation import simulate
from tests.lambda_workers.conftest import PagesContext
from tests.lambda_workers.test_runner import drop_files, event

RELAY = Workload(mode=ChainMode.RELAY)
DRIVEN = Workload(mode=ChainMode.DRIVEN)
FAST_STARTS = Quotas(max_concurrent_runs=2000, fargate_vcpu=2000.0)
"""Run slots and tasks to start every relay chain at once: a relay chain holds neither once started."""


@pytest.fixture
def aws(aws_in_process: None) -> tuple[Any, Any]:
    """S3 and SSM clients on moto in this process."""
    return boto3.client("s3"), boto3.client("ssm")


def count_calls(client: Any) -> Counter[str]:
    """Every SSM operation `client` makes from now on, by name: one per call, however many retries it takes."""
    calls: Counter[str] = Counter()

    def count(**kwargs: Any) -> None:
        calls[kwargs["model"].name] += 1

    client.meta.events.register("before-call.ssm", count)
    return calls


def as_calls(operations: Counter[str]) -> SsmCalls:
    kinds = Counter({kind: 0 for kind in CallKind})
    for name, count in operations.items():
        kinds[OPERATION_KINDS[name]] += count
    return SsmCalls(reads=kinds[CallKind.READ], writes=kinds[CallKind.WRITE], listings=kinds[CallKind.LISTING])


@pytest.mark.parametrize(("checkpoint_seconds", "checkpoints"), [(1e-6, 3), (900.0, 0)])
def test_a_real_link_makes_the_ssm_calls_the_model_counts(
    aws: tuple[Any, Any], checkpoint_seconds: float, checkpoints: int
) -> None:
    """Three pages a link: a commit after each page (a checkpoint interval shorter than any page), or none."""
    s3, ssm = aws
    bucket, deployment = "lake", "capacity"
    s3.create_bucket(Bucket=bucket)
    drop_files(s3, bucket, 0, 10)
    first = event(deployment, bucket, checkpoint_seconds=checkpoint_seconds)
    runner = ChainRunner(SsmCursorStore(ssm), ChunkWriter(s3, bucket), LinkFence(s3, bucket, deployment))

    def run(body: dict[str, Any]) -> Any:
        link_event = parse_event(body)
        source = build_source(link_event.source, SourceContext(secrets=None, s3=s3, remaining_seconds=lambda: 60.0))
        return runner.run_link(link_event, source, PagesContext(60_000, pages=3))

    one = run(first)
    calls = count_calls(ssm)
    two = run({**first, "action": "continue", "chain_id": one.chain_id, "link": one.link + 1})
    assert two.outcome == LinkOutcome.BUDGET_SPENT and two.status == ChainStatus.RUNNING, "a link of a running chain"
    assert two.link_pages == 3
    assert set(calls) == {"GetParameters", "PutParameter"}
    assert as_calls(calls) == link_calls(checkpoints)


def test_a_listing_reads_ten_records_a_call(aws: tuple[Any, Any]) -> None:
    _, ssm = aws
    store = SsmCursorStore(ssm)
    for day in range(25):
        record = CursorRecord(chain_id=f"c{day}", status=ChainStatus.DONE, cursor={})
        store.commit("capacity", ChainAddress("prices", f"2025-06-{day + 1:02d}"), record)
    calls = count_calls(ssm)
    assert len(list(store.records("capacity"))) == 25
    assert as_calls(calls) == SsmCalls(listings=listing_calls(25, RELAY))


def test_a_link_checkpoints_each_time_the_interval_has_passed_since_its_last_commit() -> None:
    """The runner commits once `checkpoint_seconds` have passed since the last commit, then at the link's end."""
    assert checkpoints_per_link(Workload(link_seconds=900.0)) == 900 // 30 - 1
    assert checkpoints_per_link(Workload(link_seconds=60.0)) == 1
    assert checkpoints_per_link(Workload(link_seconds=5.0)) == 0
    assert checkpoints_per_link(Workload(link_seconds=900.0, checkpoint_seconds=900.0)) == 0
    assert checkpoints_per_link(Workload(link_seconds=100.0, checkpoint_seconds=30.0)) == 3


def test_below_the_bound_nothing_saturates_and_above_it_the_binding_quota_does() -> None:
    workload = Workload(link_seconds=5.0)
    bound = binding_quota(Quotas(), workload)
    assert bound.quota == Quota.SSM
    below = simulate(FAST_STARTS, workload, int(bound.chains * 0.8))
    above = simulate(FAST_STARTS, workload, int(bound.chains * 1.25))
    assert below.started == below.chains and above.started == above.chains
    assert below.saturated == () and below.throttled_fraction == 0.0 and below.failed_calls == 0
    assert above.saturated == (Quota.SSM,)
    assert above.throttled[Quota.SSM] > 0.05
    assert above.efficiency < 0.95 * below.efficiency, "throttled calls stretch the links"
    assert above.peak_lambda <= above.chains < Quotas().lambda_concurrency, "Lambda has slots to spare"


def test_relay_chains_of_900_s_links_run_out_of_parameter_store_throughput_before_lambda() -> None:
    limits = quota_limits(Quotas(), RELAY)
    assert list(limits)[:2] == [Quota.SSM, Quota.LAMBDA]
    assert limits[Quota.SSM] < limits[Quota.LAMBDA] == Quotas().lambda_concurrency
    assert quota_limits(FAST_STARTS, RELAY) == limits, "run slots and tasks do not limit running relay chains"
    between = (limits[Quota.SSM] + limits[Quota.LAMBDA]) // 2
    under = simulate(FAST_STARTS, RELAY, int(limits[Quota.SSM] * 0.8))
    over = simulate(FAST_STARTS, RELAY, between)
    assert under.saturated == () and under.efficiency > 0.99
    assert over.saturated == (Quota.SSM,), "Parameter Store saturates while Lambda still has slots"
    assert over.peak_lambda == between < Quotas().lambda_concurrency


def test_doubling_parameter_store_throughput_about_doubles_the_chains_it_allows() -> None:
    workload = Workload(link_seconds=5.0)
    doubled = Quotas(ssm_tps=2 * Quotas().ssm_tps)
    before, after = max_concurrent_chains(Quotas(), workload), max_concurrent_chains(doubled, workload)
    assert binding_quota(doubled, workload).quota == Quota.SSM
    assert 1.8 <= after / before <= 2.2
    assert Quota.SSM in simulate(Quotas(), workload, int(before * 1.25)).saturated
    assert simulate(doubled, workload, int(before * 1.25)).saturated == ()


def test_shorter_links_make_parameter_store_bind_at_fewer_chains() -> None:
    counts = [quota_limits(Quotas(), replace(RELAY, link_seconds=seconds))[Quota.SSM] for seconds in (900, 60, 5)]
    assert counts[0] > counts[1] > counts[2]
    assert counts[2] < 0.1 * counts[0]


@pytest.mark.parametrize(
    ("quotas", "sources", "quota"),
    [
        (Quotas(fargate_vcpu=8.0), 1, Quota.POOL),  # Baton's catalogue: one vendor, one pool
        (Quotas(), 3, Quota.FARGATE),  # 6 vCPU: the webserver's, the daemon's, 4 run tasks
        (Quotas(run_task_vcpu=0.25), 3, Quota.RUNS),
    ],
)
def test_driven_chains_run_out_of_dagster_and_ecs_slots_first(quotas: Quotas, sources: int, quota: Quota) -> None:
    workload = replace(DRIVEN, sources=sources)
    bound = binding_quota(quotas, workload)
    expected = {
        Quota.POOL: quotas.pool_limit * sources,
        Quota.FARGATE: quotas.run_tasks,
        Quota.RUNS: quotas.max_concurrent_runs,
    }
    assert bound.quota == quota and bound.chains == expected[quota]
    simulated = simulate(quotas, workload, bound.chains + 2)
    assert simulated.started == simulated.peak_run_tasks == simulated.peak_lambda == bound.chains
    assert simulated.saturated == (quota,)


def test_relay_chains_hold_no_run_once_started() -> None:
    workload = Workload(link_seconds=60.0)
    simulated = simulate(Quotas(), workload, 30)
    assert simulated.started == 30 and simulated.saturated == ()
    assert simulated.peak_run_tasks == Quotas().run_tasks < 30
    assert simulated.ramp_seconds == pytest.approx(ramp_seconds(Quotas(), workload, 30), rel=0.35)


def test_the_simulation_is_a_function_of_its_inputs() -> None:
    workload = Workload(link_seconds=5.0)
    chains = int(max_concurrent_chains(Quotas(), workload) * 1.25)
    assert simulate(Quotas(), workload, chains, seed=3) == simulate(Quotas(), workload, chains, seed=3)
    assert simulate(Quotas(), workload, chains, seed=3) != simulate(Quotas(), workload, chains, seed=4)


@pytest.mark.parametrize("scenario", SCALE_UPS, ids=lambda scenario: scenario.name)
def test_each_scale_up_reaches_its_factor_over_the_defaults(scenario: Any) -> None:
    default = max_concurrent_chains(Quotas(), scenario.baseline)
    assert max_concurrent_chains(scenario.quotas, scenario.workload) >= scenario.factor * default
    assert (scenario.quotas, scenario.workload) != (Quotas(), scenario.baseline)
    assert ramp_seconds(scenario.quotas, scenario.workload, scenario.chains()) < 24 * 3600, "started within a day"


def test_the_10x_relay_changes_are_each_needed() -> None:
    """Drop any of the first three changes of `relay 10x` and it falls short of 10x; the fourth starts them in a day."""
    scenario = SCALE_UPS[0]
    target = scenario.factor * max_concurrent_chains(Quotas(), scenario.baseline)
    without = [
        (replace(scenario.quotas, ssm_read_tps=None, ssm_listing_tps=None), scenario.workload),
        (replace(scenario.quotas, lambda_concurrency=Quotas().lambda_concurrency), scenario.workload),
        (scenario.quotas, replace(scenario.workload, checkpoint_seconds=RELAY.checkpoint_seconds)),
    ]
    assert all(max_concurrent_chains(quotas, workload) < target for quotas, workload in without)
    slow_starts = replace(scenario.quotas, max_concurrent_runs=Quotas().max_concurrent_runs, fargate_vcpu=6.0)
    assert ramp_seconds(slow_starts, scenario.workload, scenario.chains()) > 24 * 3600


def test_the_report_gives_each_workload_the_models_figures() -> None:
    rows = capacity_report(Quotas(), DEFAULT_WORKLOADS).splitlines()[2:]
    assert len(rows) == len(DEFAULT_WORKLOADS)
    for row, workload in zip(rows, DEFAULT_WORKLOADS, strict=True):
        label, allowed, binding, following = (cell.strip() for cell in row.strip("|").split("|"))
        limits = list(quota_limits(Quotas(), workload).items())
        assert label == workload.label
        assert allowed == f"{limits[0][1]:,}"
        assert binding.startswith(limits[0][0]) and following.startswith(limits[1][0])
        assert following.endswith(f"at {limits[1][1]:,}")


def test_a_relay_run_starts_one_chain() -> None:
    with pytest.raises(ValueError, match="relay run starts one chain"):
        Workload(mode=ChainMode.RELAY, chains_per_run=4)


def test_the_readme_shows_the_models_figures() -> None:
    """The README's capacity tables are `baton capacity`'s output, as the model computes it today."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert capacity_report(Quotas(), DEFAULT_WORKLOADS) in readme
    assert scale_up_report(SCALE_UPS) in readme
