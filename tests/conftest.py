"""The session's local stack: the real services on free loopback ports, in a temporary home.

Tests that need AWS or Snowflake take `local_stack`; the fixture exports the stack's environment
(as `eval "$(baton stack env)"` would) so code under test finds it exactly as a user's would.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_stack.services import SERVICES
from local_stack.stack import LocalStack


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    home = tmp_path_factory.mktemp("baton-home")
    stack = LocalStack(home, ports={spec.name: 0 for spec in SERVICES})
    saved = dict(os.environ)
    try:
        stack.up()
        os.environ.update(stack.environment())
        yield stack
    finally:
        os.environ.clear()
        os.environ.update(saved)
        stack.down()


@pytest.fixture
def stack_home(local_stack: LocalStack) -> Path:
    return local_stack.home


@pytest.fixture
def aws_in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto in this process, whatever endpoints the session exported: for a test that needs AWS's API, not the stack.

    Starting the stack takes longer than such a test may; every `AWS_*` variable is cleared so
    that boto3 reaches moto's in-process mock and nothing else.
    """
    from moto import mock_aws

    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield
