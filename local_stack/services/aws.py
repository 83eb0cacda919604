"""moto's server, bound to loopback: the local S3, SSM, SQS, SES and CloudWatch Logs.

A thin entry point so that every service of the stack is started the same way. It serves moto's
app as `moto.server.main` does (werkzeug, threaded, moto's request handler, `/moto-api/`), but
wrapped in `AwsFidelityMiddleware`, which adds what real AWS does and moto does not: SSM
throttling (`BATON_SSM_TPS`, or at runtime `POST /_baton/ssm-throttle`) and atomic S3
conditional writes.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from types import FrameType

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

from local_stack.services.aws_fidelity import ADMIN_PATH, AwsFidelityMiddleware, SsmThrottle, tps_from_environment

__all__ = ["main"]


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    """SIGTERM (the stack's `down`) and SIGINT end the server with status 0, as moto's own main does."""
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", required=True, help="unused: moto keeps its state in memory")
    args = parser.parse_args(argv)
    try:
        tps = tps_from_environment(os.environ)
    except ValueError as exc:
        parser.error(str(exc))
    # werkzeug logs every request at INFO; the data plane makes thousands of them.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # moto builds URLs that point back at itself from MOTO_PORT.
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, _exit_cleanly)
    signal.signal(signal.SIGINT, _exit_cleanly)
    print(f"SSM throttle: {'off' if tps is None else f'{tps:g} TPS'} (change it at {ADMIN_PATH})", flush=True)
    app = AwsFidelityMiddleware(DomainDispatcherApplication(create_backend_app), SsmThrottle(tps))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
