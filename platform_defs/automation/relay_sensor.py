"""Relay mode as Dagster sees it: a sensor follows the chains that pass the baton among themselves.

A relay-mode run only launches the first link, so no run is there to watch the chain. This
sensor reads the cursor records in Parameter Store and reports, per relay chain and only on a
change: an observation for each new link, the raw asset's materialisation (and a run of the lake
and warehouse steps for that partition) when the chain is done, and a failed `chain_healthy`
check when it failed, was halted or stalled. Its cursor maps each parameter to the last state
reported, so every state is reported once; chains that finished days ago leave the cursor, so it stays small.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import dagster as dg

from lambda_workers.chain.cursor_store import CursorRecord, parameter_name
from lambda_workers.chain.status import ChainMode, ChainStatus
from lambda_workers.events import ChainAddress
from platform_defs.automation.jobs import JOBS, lineage_job, lineage_keys
from platform_defs.chain_health import CHAIN_HEALTHY, chain_problem
from platform_defs.chain_metadata import record_metadata
from platform_defs.datasets import DATASETS
from platform_defs.resources.chains import ChainResource

__all__ = ["relay_chain_sensor"]

FORGET_AFTER = timedelta(days=2)  # a finished chain's state is kept this long, then dropped from the cursor


@dg.sensor(
    name="relay_chains",
    jobs=list(JOBS.values()),
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Reports the links, completion and failures of relay-mode chains from their SSM cursor records.",
)
def relay_chain_sensor(context: dg.SensorEvaluationContext, chains: ChainResource) -> dg.SensorResult:
    reported: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    now = datetime.now().astimezone()
    events: list[dg.AssetObservation | dg.AssetMaterialization | dg.AssetCheckEvaluation] = []
    runs: list[dg.RunRequest] = []
    for chain, record in chains.records():
        if record.mode != ChainMode.RELAY or chain.asset not in DATASETS or chain.shard:
            continue
        parameter = parameter_name(chains.deployment, chain)
        finished = record.status not in (ChainStatus.PENDING, ChainStatus.RUNNING)
        if finished and now - datetime.fromisoformat(record.updated_at) > FORGET_AFTER:
            reported.pop(parameter, None)  # long finished: reported then, and the cursor stays small
            continue
        problem = chain_problem(record, now, chains.stall_after_seconds)
        state = f"{record.chain_id}:{record.link}:{record.status}:{'stalled' if problem else 'ok'}"
        if reported.get(parameter) == state:
            continue
        reported[parameter] = state
        context.log.info(f"{parameter}: {state}")
        new_events, run = _report(chain, parameter, record, problem)
        events += new_events
        runs += [run] if run else []
    return dg.SensorResult(asset_events=events, run_requests=runs, cursor=json.dumps(reported, sort_keys=True))


def _report(
    chain: ChainAddress, parameter: str, record: CursorRecord, problem: str | None
) -> tuple[list[dg.AssetObservation | dg.AssetMaterialization | dg.AssetCheckEvaluation], dg.RunRequest | None]:
    dataset = DATASETS[chain.asset]
    raw_key, *downstream = lineage_keys(dataset)
    partition = chain.partition if dataset.partitions else None
    metadata = record_metadata(parameter, record)
    if problem is not None:
        check = dg.AssetCheckEvaluation(
            asset_key=raw_key, check_name=CHAIN_HEALTHY, passed=False, description=problem, metadata=metadata
        )
        return [dg.AssetObservation(asset_key=raw_key, partition=partition, metadata=metadata), check], None
    if record.status != ChainStatus.DONE:
        return [dg.AssetObservation(asset_key=raw_key, partition=partition, metadata=metadata)], None
    events: list[dg.AssetObservation | dg.AssetMaterialization | dg.AssetCheckEvaluation] = [
        dg.AssetMaterialization(asset_key=raw_key, partition=partition, metadata=metadata),
        dg.AssetCheckEvaluation(asset_key=raw_key, check_name=CHAIN_HEALTHY, passed=True, metadata=metadata),
    ]
    run = dg.RunRequest(
        run_key=f"{parameter}@{record.chain_id}",
        job_name=lineage_job(chain.asset).name,
        asset_selection=downstream,
        partition_key=partition,
        tags={"baton/chain": parameter, "baton/chain_id": record.chain_id},
    )
    return events, run
