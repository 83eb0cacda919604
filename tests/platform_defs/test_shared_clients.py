"""Platform clients are built once per process and configuration, and never shared across AWS environments."""

from __future__ import annotations

import threading

import pytest
from botocore.config import Config

from lambda_workers.chain.cursor_store import SsmCursorStore
from lambda_workers.events import ChainAddress
from local_stack.stack import LocalStack
from platform_defs.chain_clients import aws_client, lambda_client
from platform_defs.settings import AwsSettings


def test_the_same_settings_share_one_client_and_other_settings_get_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    east = AwsSettings("us-east-1")
    ssm = aws_client(east, "ssm")
    assert aws_client(AwsSettings("us-east-1"), "ssm") is ssm
    assert aws_client(AwsSettings("eu-west-1"), "ssm") is not ssm
    assert aws_client(east, "s3") is not ssm
    assert lambda_client(east) is lambda_client(east)
    impatient = aws_client(east, "lambda", Config(read_timeout=5))
    assert impatient is not lambda_client(east) and impatient.meta.config.read_timeout == 5
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:2")
    elsewhere = aws_client(east, "ssm")
    assert elsewhere is not ssm and elsewhere.meta.endpoint_url == "http://127.0.0.1:2"


REGIONS = ["us-east-2", "us-west-1", "us-west-2", "eu-west-2", "eu-west-3", "eu-central-1", "ap-south-1", "sa-east-1"]


def test_threads_that_first_use_a_shared_client_together_all_catch_its_errors(local_stack: LocalStack) -> None:
    """Clearing a halt flag that is not set is no error, from every thread, on a client none had used yet."""
    threads_per_client = 6
    failures: list[str] = []
    for region in REGIONS:  # a client per region, each first used by all threads at once
        barrier = threading.Barrier(threads_per_client)

        def clear(index: int, region: str = region, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            store = SsmCursorStore(aws_client(AwsSettings(region), "ssm"))
            try:
                store.set_halt("shared-clients", ChainAddress("prices", f"2025-01-{index + 1:02d}"), False)
            except Exception as exc:  # collected: the assertion below names each
                failures.append(f"{region} thread {index}: {type(exc).__name__}: {exc}")

        workers = [threading.Thread(target=clear, args=(i,)) for i in range(threads_per_client)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
    assert failures == []
