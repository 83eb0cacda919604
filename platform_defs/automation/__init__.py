"""What runs Baton unattended: jobs, schedules, sensors and the checks that watch freshness."""

from platform_defs.automation.failure_alerts import failure_email_sensor
from platform_defs.automation.feed_sensor import corporate_actions_feed_sensor
from platform_defs.automation.freshness import FRESHNESS_CHECKS, freshness_sensor
from platform_defs.automation.jobs import JOBS, lineage_job
from platform_defs.automation.relay_sensor import relay_chain_sensor
from platform_defs.automation.schedules import SCHEDULES

SENSORS = [corporate_actions_feed_sensor, relay_chain_sensor, failure_email_sensor, freshness_sensor]

__all__ = ["FRESHNESS_CHECKS", "JOBS", "SCHEDULES", "SENSORS", "lineage_job"]
