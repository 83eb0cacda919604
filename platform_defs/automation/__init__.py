"""What runs Baton unattended: jobs, schedules and sensors."""

from platform_defs.automation.completion_alerts import COMPLETION_SENSORS
from platform_defs.automation.failure_alerts import failure_email_sensor
from platform_defs.automation.jobs import JOBS, SQL_MODELS_JOB, lineage_job
from platform_defs.automation.landing_sensor import LANDING_SENSORS
from platform_defs.automation.relay_sensor import relay_chain_sensor
from platform_defs.automation.schedules import SCHEDULES
from platform_defs.automation.watchdog import chain_watchdog

SENSORS = [*LANDING_SENSORS, relay_chain_sensor, chain_watchdog, failure_email_sensor, *COMPLETION_SENSORS]

__all__ = ["JOBS", "SCHEDULES", "SENSORS", "SQL_MODELS_JOB", "lineage_job"]
