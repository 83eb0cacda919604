"""The Dagster UI as a person sees it: the lineage graph and a chain's cursor, in a real browser.

The other tests read metadata through Dagster's Python API; only a browser shows that the
webserver, loading the code location on its own, finds the same instance and renders the chain's
cursor where the README promises it. Debian's chromium is driven by Playwright as a system browser
(no browser download, which this network cannot make); `.ci/e2e-setup` installs both.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import pytest

from local_stack.home import PROJECT_ROOT
from local_stack.stack import LocalStack
from platform_defs.chain_clients import lambda_client
from platform_defs.deploy import deploy_chain_function
from platform_defs.instance_config import write_dagster_home
from platform_defs.settings import load_settings

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.e2e

DAY = "2025-06-03"
PRICES = [dg.AssetKey(["raw", "prices"]), dg.AssetKey(["lake", "prices"]), dg.AssetKey(["warehouse", "raw", "prices"])]
GROUPS = ("raw", "lake", "warehouse")
WEBSERVER_START_SECONDS = 120.0
WEBSERVER_STOP_SECONDS = 30.0
UI_TIMEOUT_MS = 60_000


@pytest.fixture
def chromium() -> str:
    """The system browser; CI installs it, so a skip here names exactly what is missing."""
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("the `chromium` binary is not installed (Debian package `chromium`; run .ci/e2e-setup)")
    return path


@pytest.fixture
def dagster_home(tmp_path: Path) -> Path:
    """A DAGSTER_HOME of the test's own, so the UI shows exactly the run this test made.

    Its dagster.yaml is the one `baton dev` writes: with the community dialog (`nux`) off, the UI
    opens straight on the page the test looks at, as it does for a user.
    """
    return write_dagster_home(tmp_path / "dagster")


@pytest.fixture
def materialized(local_stack: LocalStack, dagster_home: Path) -> None:
    """The prices lineage for one day, materialised into the instance the webserver will read."""
    settings = load_settings()
    deploy_chain_function(lambda_client(settings.aws), settings.chains.function_name, settings.chains.role_arn)
    from platform_defs.definitions import defs

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        result = dg.materialize(
            list(defs.assets or []),
            selection=dg.AssetSelection.assets(*PRICES),
            resources=defs.resources,
            instance=instance,
            partition_key=DAY,
        )
    assert result.success


@pytest.fixture
def webserver(local_stack: LocalStack, dagster_home: Path, materialized: None, tmp_path: Path) -> Iterator[str]:
    """`dagster-webserver` on a free loopback port, over the test's instance; yields its base URL.

    It runs in a session of its own so that its code server goes down with it, whatever happens.
    """
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "webserver.log"
    command = [
        str(Path(sys.executable).with_name("dagster-webserver")),
        *("-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)),
    ]
    env = {**os.environ, **local_stack.environment(), "DAGSTER_HOME": str(dagster_home)}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_default_stop_signals,
        )
    try:
        _wait_until_serving(process, url, log_path)
        yield url
    finally:
        _stop(process)


def test_ui_shows_the_lineage_and_the_chain_cursor(chromium: str, webserver: str, tmp_path: Path) -> None:
    """`chromium` comes first so that a machine without it skips before the stack does any work."""
    from playwright.sync_api import expect, sync_playwright

    artifacts = Path(os.environ.get("BATON_E2E_ARTIFACTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, timeout=UI_TIMEOUT_MS)
        try:
            # Tall enough for the whole metadata table: Dagster scrolls inside its own panes, which
            # a full-page screenshot does not unroll.
            page = browser.new_page(viewport={"width": 1600, "height": 1400})
            page.set_default_timeout(UI_TIMEOUT_MS)
            expect.set_options(timeout=UI_TIMEOUT_MS)
            shots: list[Path] = []

            page.goto(f"{webserver}/asset-groups")
            for group in GROUPS:
                node = _graph_node(page, group)
                expect(node).to_be_visible()
                expect(node).not_to_contain_text("fetching statuses")
            shots.append(_screenshot(page, artifacts / "asset-groups.png"))

            page.goto(f"{webserver}/assets/raw/prices?view=lineage&lineageScope=downstream&lineageDepth=2")
            for group in GROUPS:
                expect(_graph_node(page, group)).to_be_visible()
            prices = _graph_node(page, "prices")
            expect(prices).to_have_count(len(PRICES))
            for node in prices.all():
                expect(node).to_contain_text("ago")  # its latest event: each one was materialised
            shots.append(_screenshot(page, artifacts / "prices-lineage.png"))

            page.goto(f"{webserver}/assets/raw/prices")
            expect(page.get_by_text("Latest materialization")).to_be_visible()
            expect(_metadata_row(page, "ssm_parameter")).to_contain_text(f"/baton/local/chains/prices/{DAY}")
            expect(_metadata_row(page, "cursor")).to_contain_text('"offset": 3000')
            expect(_metadata_row(page, "status")).to_contain_text("done")
            shots.append(_screenshot(page, artifacts / "raw-prices.png"))
        finally:
            browser.close()
    assert all(shot.stat().st_size > 0 for shot in shots), shots


def _graph_node(page: Page, title: str) -> Locator:
    """Nodes of a lineage graph titled `title` (a group, or an asset's last key part): Dagster
    draws each node as HTML inside an SVG foreignObject."""
    return page.locator("svg foreignObject").filter(has=page.get_by_text(title, exact=True))


def _metadata_row(page: Page, key: str) -> Locator:
    """The row of the asset's metadata table whose key cell is exactly `key`."""
    return page.locator("tr").filter(has=page.locator("td").get_by_text(key, exact=True))


def _screenshot(page: Page, path: Path) -> Path:
    page.screenshot(path=str(path), full_page=True)
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _default_stop_signals() -> None:
    """Run in the child before exec: one started from a non-interactive shell inherits an ignored
    SIGINT, and Dagster then ignores SIGTERM too (shared/FACTS.md); defaults let SIGTERM stop it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _wait_until_serving(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + WEBSERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dagster-webserver exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    pytest.fail(f"dagster-webserver not serving {url} after {WEBSERVER_START_SECONDS:.0f} s:\n{_tail(log_path)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM for a clean shutdown, then SIGKILL for whatever of its session is left."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=WEBSERVER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=WEBSERVER_STOP_SECONDS)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
