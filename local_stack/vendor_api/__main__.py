"""`python -m local_stack.vendor_api --host H --port P --state-dir DIR [--api-key KEY]`: serve until SIGTERM/SIGINT.

The key comes from `--api-key` or else `BATON_VENDOR_API_KEY`; without either the service
refuses to start. Data flags override the optional `--config` JSON file.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from local_stack.vendor_api.config import VendorConfig
from local_stack.vendor_api.exceptions import ConfigError
from local_stack.vendor_api.server import VendorApi

logger = logging.getLogger("local_stack.vendor_api")

KEY_VARIABLE = "BATON_VENDOR_API_KEY"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_stack.vendor_api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--api-key", help=f"the key /v1 requests must send as X-Api-Key (default: ${KEY_VARIABLE})")
    parser.add_argument("--config", type=Path, help="a JSON file with any of the data settings below")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--instruments", type=int)
    parser.add_argument("--intraday-instruments", type=int)
    parser.add_argument("--start-date", help="first day of history, YYYY-MM-DD")
    parser.add_argument("--now", help="the vendor's clock, ISO-8601 UTC (default: real time)")
    parser.add_argument("--job-seconds", type=float)
    parser.add_argument("--log-level", default="INFO")
    return parser


def _config(args: argparse.Namespace) -> VendorConfig:
    base = VendorConfig.from_json_file(args.config) if args.config else VendorConfig()
    flags = {
        "seed": args.seed,
        "instruments": args.instruments,
        "intraday_instruments": args.intraday_instruments,
        "start_date": args.start_date,
        "now": args.now,
        "job_seconds": args.job_seconds,
    }
    return base.updated({name: value for name, value in flags.items() if value is not None})


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    api_key = args.api_key or os.environ.get(KEY_VARIABLE, "")
    if not api_key:
        print(f"vendor API: no API key; pass --api-key or set {KEY_VARIABLE}", file=sys.stderr)
        return 2
    try:
        config = _config(args)
    except ConfigError as exc:
        print(f"vendor API: invalid configuration: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    try:
        api = VendorApi(args.host, args.port, api_key, args.state_dir, config).start()
    except OSError as exc:
        print(f"vendor API: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    stop.wait()
    api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
