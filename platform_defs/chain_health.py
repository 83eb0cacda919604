"""Is a chain healthy? Failed, halted, or pending or running without a commit for too long is not.

The `chain_healthy` check of each raw asset asks this of every chain of the asset (on demand,
from the UI), and the relay sensor reports the same check when it sees a relay chain go wrong,
so one check carries a chain's health whichever way it runs.
"""

from __future__ import annotations

from datetime import datetime

import dagster as dg

from lambda_workers.chain.cursor_store import CursorRecord, parameter_name
from lambda_workers.chain.status import ChainStatus
from platform_defs.datasets import DATASETS
from platform_defs.resources.chains import ChainResource

__all__ = ["CHAIN_HEALTHY", "chain_health_checks", "chain_problem"]

CHAIN_HEALTHY = "chain_healthy"


def chain_problem(record: CursorRecord, now: datetime, stall_after_seconds: float) -> str | None:
    """What is wrong with the chain, or None while it is done or making progress."""
    if record.status in (ChainStatus.FAILED, ChainStatus.HALTED):
        return f"chain {record.chain_id} {record.status} at link {record.link}: {record.last_error}"
    if record.status in (ChainStatus.PENDING, ChainStatus.RUNNING) and record.updated_at:
        # A pending chain whose first link never committed stalls as a running one does.
        silent = (now - datetime.fromisoformat(record.updated_at)).total_seconds()
        if silent > stall_after_seconds:
            return (
                f"chain {record.chain_id} stalled: no link committed for {silent:.0f} s "
                f"(limit {stall_after_seconds:.0f} s) after link {record.link}"
            )
    return None


def _check(dataset_name: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(["raw", dataset_name]),
        name=CHAIN_HEALTHY,
        description="No chain of this asset failed, was halted, or stopped committing links.",
    )
    def chain_healthy(chains: ChainResource) -> dg.AssetCheckResult:
        now = datetime.now().astimezone()
        problems = {
            parameter_name(chains.deployment, chain): problem
            for chain, record in chains.records(dataset_name)
            if (problem := chain_problem(record, now, chains.stall_after_seconds)) is not None
        }
        return dg.AssetCheckResult(
            passed=not problems,
            metadata={"unhealthy_chains": len(problems), "problems": dg.MetadataValue.json(problems)},
        )

    return chain_healthy


def chain_health_checks() -> list[dg.AssetChecksDefinition]:
    return [_check(name) for name in DATASETS]
