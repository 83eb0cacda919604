"""Entry point of the stack's Lambda service: serve until SIGTERM or SIGINT, then kill every runtime and exit 0."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from local_stack.lambda_service.service import LambdaService


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local_stack.lambda_service", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True, help="function code and invocation logs")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    service = LambdaService(args.host, args.port, args.state_dir)
    service.start()
    try:
        stop.wait()
    finally:
        service.stop()


if __name__ == "__main__":
    main()
