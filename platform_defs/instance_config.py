"""The Dagster instance Baton runs on: its `dagster.yaml`, written by `baton dev` and `baton demo`.

The pool limits live here because they are part of how the platform treats its sources: a
30-day backfill queues behind them instead of flooding the vendor API. Nothing leaves the machine
(telemetry off), the UI opens on the asset graph instead of the "join the community" dialog
(`nux` off), and the freshness daemon runs, since the intraday table's freshness policy needs it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CHAINS_PER_SOURCE", "MAX_CONCURRENT_RUNS", "write_dagster_home"]

CHAINS_PER_SOURCE = 4
MAX_CONCURRENT_RUNS = 8

_DAGSTER_YAML = """\
# Written by `baton` on every start: edit platform_defs/instance_config.py, not this file.
telemetry:
  enabled: false
nux:
  enabled: false
freshness:
  enabled: true
concurrency:
  pools:
    # At most this many chains per source at once (pools are named <source>_chains).
    default_limit: {chains_per_source}
  runs:
    max_concurrent_runs: {max_runs}
"""


def write_dagster_home(
    path: Path, chains_per_source: int = CHAINS_PER_SOURCE, max_concurrent_runs: int = MAX_CONCURRENT_RUNS
) -> Path:
    """Create `path` with Baton's `dagster.yaml`: telemetry and nux off, freshness on, pool and run limits."""
    path.mkdir(parents=True, exist_ok=True)
    config = _DAGSTER_YAML.format(chains_per_source=chains_per_source, max_runs=max_concurrent_runs)
    (path / "dagster.yaml").write_text(config)
    return path
