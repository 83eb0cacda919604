"""Fixtures: the vendor API as a real subprocess, shared by most tests, plus extra ones on demand.

One server with a small universe serves most tests for the whole session; the `vendor` fixture
restores its configuration, knobs and counters after each test. Tests that need their own
process (start-up rules, restarts, a second seed, an S3 endpoint) use `start_vendor`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.local_stack.vendor_api.helpers import SMALL_CONFIG, StartVendor, VendorClient, VendorProcess, launch


@pytest.fixture
def start_vendor(tmp_path: Path) -> Iterator[StartVendor]:
    """Start extra servers (each in its own state folder unless given one); all are stopped afterwards."""
    started: list[VendorProcess] = []

    def start(config: Mapping[str, Any] | None = None, state_dir: Path | None = None, **kwargs: Any) -> VendorProcess:
        folder = state_dir or tmp_path / f"vendor-{len(started)}"
        server = launch(folder, SMALL_CONFIG if config is None else config, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def vendor_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VendorProcess]:
    server = launch(tmp_path_factory.mktemp("vendor"), SMALL_CONFIG)
    yield server
    assert server.stop() == 0


@pytest.fixture
def vendor(vendor_process: VendorProcess) -> Iterator[VendorClient]:
    """The session server's client; knobs, counters and configuration are restored after the test."""
    client = vendor_process.client
    client.admin("/admin/reset", {})
    yield client
    client.admin("/admin/reset", {})
    client.admin("/admin/config", SMALL_CONFIG)
