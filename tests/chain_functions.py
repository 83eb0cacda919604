"""The chain worker deployed as a function of a test's own: its own name, its own link timeout."""

from __future__ import annotations

import uuid

from platform_defs.chain_clients import lambda_client
from platform_defs.deploy import deploy_chain_function
from platform_defs.settings import load_settings


def deploy_test_function(prefix: str, timeout: int, memory_mb: int = 256) -> str:
    """Deploy the worker zip as `<prefix>-<random>` with `timeout`-second links; return its name."""
    settings = load_settings()
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    deploy_chain_function(
        lambda_client(settings.aws), name, settings.chains.role_arn, timeout=timeout, memory_mb=memory_mb
    )
    return name
