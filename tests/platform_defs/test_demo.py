"""The demo's runs are the platform's named jobs, so the UI lists them as the schedules' runs are listed."""

from __future__ import annotations

import re

import dagster as dg
import pytest

from local_stack.stack import LocalStack
from platform_defs.chain_clients import lambda_client
from platform_defs.demo import _run, _run_heavy_chain
from platform_defs.deploy import deploy_chain_function
from platform_defs.settings import load_settings


@pytest.fixture(scope="module")
def definitions(local_stack: LocalStack) -> dg.Definitions:
    settings = load_settings()
    deploy_chain_function(lambda_client(settings.aws), settings.chains.function_name, settings.chains.role_arn)
    from platform_defs.definitions import defs

    return defs


def test_a_demo_step_runs_each_lineage_job_by_name_and_sums_it_up(
    definitions: dg.Definitions, capsys: pytest.CaptureFixture[str]
) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        _run(definitions, ["instruments_lineage", "corporate_actions_lineage"], instance, None, "reference data")
        runs = instance.get_runs()
        assert sorted(run.job_name for run in runs) == ["corporate_actions_lineage", "instruments_lineage"]
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
    line = capsys.readouterr().out.strip()
    summary = (
        r"reference data   runs [0-9a-f]{8}, [0-9a-f]{8}: instruments \d+, corporate_actions \d+ rows in Snowflake"
    )
    assert re.fullmatch(summary, line), line


@pytest.mark.slow
def test_the_demos_heavy_extraction_is_a_multi_link_chain_with_progress_lines(
    definitions: dg.Definitions, capsys: pytest.CaptureFixture[str]
) -> None:
    """Over a million rows in 1-second links: no machine extracts that in one link (the vendor alone serves less)."""
    with dg.DagsterInstance.ephemeral() as instance:
        _run_heavy_chain(definitions, instance)
    out = capsys.readouterr().out
    links = re.findall(r"prices_history/all link (\d+): .*, (\d+)% of 1173000", out)
    assert len(links) > 1 and [int(n) for n, _ in links] == list(range(1, len(links) + 1)), "one line per link"
    assert links[-1][1] == "100" and re.search(r"ETA \d+ s", out)
    assert re.search(
        r"prices_history +run [0-9a-f]{8}: \d+ links, 1,173,000 rows, \$[0-9.]+ of Lambda; 1,173,000 rows", out
    )
