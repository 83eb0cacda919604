"""A failed run sends an email: unattended schedules must not fail in silence.

The message says what failed (job, partition, the failing steps and their errors) and links the
run in the UI; SES delivers it (moto's SES on the local stack).
"""

from __future__ import annotations

import dagster as dg
from dagster_shared.error import SerializableErrorInfo

from platform_defs.resources.notifier import EmailNotifier

__all__ = ["failure_email_sensor"]

ERROR_CHARS = 1500


@dg.run_failure_sensor(
    name="email_on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Emails the data engineers when any run of this code location fails.",
)
def failure_email_sensor(context: dg.RunFailureSensorContext, notifier: EmailNotifier) -> None:
    run = context.dagster_run
    partition = run.tags.get("dagster/partition")
    subject = f"[baton] run failed: {run.job_name}" + (f" [{partition}]" if partition else "")
    lines = [
        f"Job: {run.job_name}",
        f"Run: {run.run_id} ({notifier.ui_url}/runs/{run.run_id})",
        f"Partition: {partition or '-'}",
        f"Error: {context.failure_event.message}",
    ]
    for step in context.get_step_failure_events():
        error = step.event_specific_data.error if step.event_specific_data else None
        detail = _error_chain(error) if error else step.message or ""
        lines += ["", f"Step {step.step_key} failed:", detail[:ERROR_CHARS]]
    message_id = notifier.send(subject, "\n".join(lines))
    context.log.info(f"alert {message_id} sent to {', '.join(notifier.recipients)} for run {run.run_id}")


def _error_chain(error: SerializableErrorInfo) -> str:
    """The messages of an error and its causes, without stack traces: the cause is what the reader needs."""
    messages = []
    current: SerializableErrorInfo | None = error
    while current is not None:
        messages.append(current.message.strip())
        current = current.cause
    return "\n  caused by: ".join(messages)
