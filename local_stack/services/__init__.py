"""The services of the local stack, in start order, and the contract each one follows.

Every service is a Python module run as its own process:
`python -m <module> --host 127.0.0.1 --port PORT --state-dir DIR`, with the stack's AWS
settings in its environment; it answers `GET <health_path>` with 200 once ready and exits
cleanly on SIGTERM.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SERVICES", "ServiceSpec", "service_named"]


@dataclass(frozen=True)
class ServiceSpec:
    """How to start one service and how to tell that it is healthy."""

    name: str
    module: str
    default_port: int
    health_path: str
    description: str

    def command(self, host: str, port: int, state_dir: Path) -> list[str]:
        """The command line every service understands: its module with host, port and state folder."""
        return [sys.executable, "-m", self.module, "--host", host, "--port", str(port), "--state-dir", str(state_dir)]

    @property
    def port_variable(self) -> str:
        """The environment variable that overrides the default port, e.g. `BATON_AWS_PORT`."""
        return f"BATON_{self.name.upper()}_PORT"


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("aws", "local_stack.services.aws", 4566, "/moto-api/", "moto: S3, SSM, SQS, SES, CloudWatch Logs"),
    ServiceSpec("snowflake", "local_stack.services.snowflake", 8085, "/health", "fakesnow: Snowflake on DuckDB"),
    ServiceSpec("lambda", "local_stack.lambda_service", 9001, "/health", "Lambda: awslambdaric in real processes"),
    ServiceSpec("vendor", "local_stack.vendor_api", 8090, "/health", "vendor API: synthetic market data"),
)


def service_named(name: str) -> ServiceSpec:
    """The spec of one service; an unknown name is an error listing the known ones."""
    for spec in SERVICES:
        if spec.name == name:
            return spec
    known = ", ".join(spec.name for spec in SERVICES)
    raise KeyError(f"unknown service {name!r}; the stack has: {known}")
