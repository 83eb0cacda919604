"""The AWS template passes cfn-lint, its role grants only what a chain needs, and failed links reach the queue."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cfnlint.decode import decode

TEMPLATE = Path(__file__).parents[2] / "infra" / "template.yaml"


def test_template_passes_cfn_lint() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(TEMPLATE)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_role_is_least_privilege_and_function_settings_are_safe() -> None:
    template, problems = decode(str(TEMPLATE))
    assert not problems
    resources = template["Resources"]
    statements = resources["ChainRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    for statement in statements:
        targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert "*" not in targets, f"{statement['Sid']} grants every resource"
        assert all(not str(action).endswith("*") for action in [statement["Action"]] if isinstance(action, str))
    ssm = next(s for s in statements if s["Sid"] == "ChainCursorsAndHalts")
    assert all("/baton/${Deployment}/" in str(target) for target in ssm["Resource"])
    async_config = resources["ChainAsyncConfig"]["Properties"]
    assert async_config["MaximumRetryAttempts"] == 2, "links are idempotent: Lambda's retries are safe"
    queue = {"Fn::GetAtt": ["ChainFailureQueue", "Arn"]}
    assert async_config["DestinationConfig"]["OnFailure"]["Destination"] == queue
    sends = next(s for s in statements if s["Sid"] == "FailedLinksToTheQueue")
    assert (sends["Action"], sends["Resource"]) == ("sqs:SendMessage", queue), "the role sends only to its queue"
    assert resources["ChainFunction"]["Properties"]["RecursiveLoop"] == "Allow"
    assert resources["ChainFunction"]["Properties"]["Handler"] == "lambda_workers.handler.lambda_handler"
