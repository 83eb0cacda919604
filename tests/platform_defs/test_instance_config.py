"""The `dagster.yaml` Baton writes, read back by Dagster as `dagster dev` and the daemon read it."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from platform_defs.instance_config import write_dagster_home


def test_the_instance_is_quiet_opens_on_the_graph_and_evaluates_freshness(tmp_path: Path) -> None:
    home = write_dagster_home(tmp_path / "dagster", chains_per_source=3, max_concurrent_runs=5)
    with dg.DagsterInstance.from_config(str(home)) as instance:  # validates against Dagster's schema
        assert not instance.telemetry_enabled
        assert not instance.nux_enabled, "the UI's 'join the community' dialog would hide the asset graph"
        assert instance.freshness_enabled
        concurrency = instance.get_concurrency_config()
        assert concurrency.pool_config.default_pool_limit == 3
        assert concurrency.run_queue_config is not None
        assert concurrency.run_queue_config.max_concurrent_runs == 5
