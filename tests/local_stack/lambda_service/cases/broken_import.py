"""A module whose import fails, as a package missing a dependency does."""

import module_that_is_not_in_the_zip  # noqa: F401


def handler(event, context):
    return "unreachable"
