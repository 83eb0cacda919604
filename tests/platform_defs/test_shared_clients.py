"""Platform clients are built once per process and configuration, and never shared across AWS environments."""

from __future__ import annotations

import pytest
from botocore.config import Config

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
