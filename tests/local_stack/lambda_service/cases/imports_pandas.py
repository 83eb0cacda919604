"""A worker that imports pandas without packaging it: the Lambda runtime has no pandas, so it never loads."""

import pandas  # noqa: F401


def handler(event, context):
    return "unreachable"
