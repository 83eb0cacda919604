"""A local stack of a benchmark's own, in a temporary home, stopped (by PID) however the benchmark ends."""

from __future__ import annotations

import json
import os
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from local_stack.services import SERVICES
from local_stack.stack import LocalStack

__all__ = ["temporary_stack"]


@contextmanager
def temporary_stack(instruments: int | None = None) -> Iterator[LocalStack]:
    """The stack up on free loopback ports, its variables exported to this process (and its children).

    `instruments` sets how many instruments the vendor lists: its price pages hold one row each.
    """
    with tempfile.TemporaryDirectory() as home:
        stack = LocalStack(Path(home), ports={spec.name: 0 for spec in SERVICES})
        try:
            stack.up()
            os.environ.update(stack.environment())
            if instruments is not None:
                vendor = os.environ["BATON_VENDOR_MARKETS_BASE_URL"]
                config = json.dumps({"instruments": instruments}).encode()
                request = urllib.request.Request(vendor + "/admin/config", data=config, method="POST")
                urllib.request.urlopen(request, timeout=60).read()
            yield stack
        finally:
            stack.down()
