"""`baton chains list|halt`: a chain's state and its halt flag from the command line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lambda_workers.chain.cursor_store import CursorRecord, SsmCursorStore
from lambda_workers.chain.status import ChainMode, ChainStatus
from lambda_workers.events import ChainAddress
from local_stack.stack import LocalStack
from platform_defs.chain_clients import aws_client
from platform_defs.cli import main
from platform_defs.settings import load_settings


def test_list_shows_a_chains_progress_and_halt_sets_its_flag(
    local_stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings()
    store = SsmCursorStore(aws_client(settings.aws, "ssm"))
    chain = ChainAddress("cli_probe", "2025-06-02")
    now = datetime.now(UTC).isoformat()
    record = CursorRecord(
        "20250602T000000Z-cli00001",
        ChainStatus.RUNNING,
        {"offset": 750},
        link=3,
        rows=750,
        total=3000,
        updated_at=now,
        mode=ChainMode.RELAY,
    )
    store.commit(settings.deployment, chain, record)

    assert main(["chains", "list", "--asset", "cli_probe"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[1].split()[:6] == ["cli_probe/2025-06-02", "running", "relay", "3", "750", "25%"]

    assert main(["chains", "halt", "cli_probe", "2025-06-02"]) == 0
    assert "halt flag set for cli_probe/2025-06-02" in capsys.readouterr().out
    assert store.halt_requested(settings.deployment, chain)


def test_halting_a_chain_that_never_ran_names_it(local_stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chains", "halt", "cli_probe", "1999-01-01"]) == 1
    assert "no chain cli_probe/1999-01-01 in deployment local" in capsys.readouterr().err
