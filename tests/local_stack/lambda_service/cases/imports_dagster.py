"""A worker that imports dagster by mistake: the Lambda runtime has no dagster, so it never loads."""

import dagster  # noqa: F401


def handler(event, context):
    return "unreachable"
