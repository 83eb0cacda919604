"""moto's server, bound to loopback: the local S3, SSM, SQS, SES and CloudWatch Logs.

A thin entry point so that every service of the stack is started the same way.
"""

from __future__ import annotations

import argparse
import logging

from moto.server import main as moto_main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", required=True, help="unused: moto keeps its state in memory")
    args = parser.parse_args(argv)
    # werkzeug logs every request at INFO; the data plane makes thousands of them.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto_main(["-H", args.host, "-p", str(args.port)])


if __name__ == "__main__":
    main()
