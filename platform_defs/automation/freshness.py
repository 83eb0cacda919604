"""Intraday prices must be fresh while the window is open: a silent schedule is a stale dashboard.

By 09:45 New York time on a weekday, the intraday table must have been loaded within the last
30 minutes (the schedule loads it every 20). The check is evaluated by its own sensor, so it
fails visibly in the UI even when no run happens at all.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from platform_defs.datasets import EXCHANGE_TZ

__all__ = ["FRESHNESS_CHECKS", "freshness_sensor"]

FRESHNESS_CHECKS = dg.build_last_update_freshness_checks(
    assets=[dg.AssetKey(["warehouse", "raw", "intraday_prices"])],
    lower_bound_delta=timedelta(minutes=30),
    deadline_cron="45 9 * * 1-5",
    timezone=str(EXCHANGE_TZ),
    severity=dg.AssetCheckSeverity.ERROR,
)

freshness_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=FRESHNESS_CHECKS, name="intraday_freshness", default_status=dg.DefaultSensorStatus.RUNNING
)
