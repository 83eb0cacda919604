"""Invoke latency of the local Lambda service beside python-lambda-local, on the same handler.

    .venv/bin/python bench/lambda_invoke.py [--warm 500] [--cold 10]

Baton's service runs as the stack runs it (a subprocess on loopback) and is called through boto3,
so its numbers include the HTTP round trip and botocore; python-lambda-local is called in-process
(`lambda_local.main.call`, one forked process per call) for warm invokes and through its CLI for
cold starts. A cold start here is the first invoke after a configuration change (a new process:
spawn, awslambdaric init, invoke); for python-lambda-local, a whole CLI run.
The last row shows the difference in kind: a handler that swallows exceptions for 3 s under a
1 s timeout is killed on time by the service and runs to its end under python-lambda-local.
Targets: warm p50 <= 10 ms, cold start <= 1 s. python-lambda-local is a bench-only dependency.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from local_stack.services import service_named

REPO = Path(__file__).resolve().parents[1]
HANDLER_SOURCE = """
import contextlib
import time


def handler(event, context):
    return {"ok": True, "n": event.get("n")}


def stubborn(event, context):
    end = time.time() + 3
    while time.time() < end:
        with contextlib.suppress(BaseException):
            time.sleep(0.01)
    return "ran to the end"
"""
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


@contextmanager
def lambda_service(state_dir: Path) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    environ = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")} | CREDENTIALS
    process = subprocess.Popen(
        [*service_named("lambda").command("127.0.0.1", port, state_dir), "--log-level", "WARNING"],
        cwd=REPO,
        env=environ,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the Lambda service did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def bench_service(url: str, warm: int, cold: int) -> dict[str, float]:
    client: Any = boto3.client(
        "lambda",
        endpoint_url=url,
        region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("bench_handler.py", HANDLER_SOURCE)
    client.create_function(
        FunctionName="bench",
        Runtime="python3.11",
        Role="arn:aws:iam::123456789012:role/bench",
        Handler="bench_handler.handler",
        Code={"ZipFile": package.getvalue()},
    )
    payload = json.dumps({"n": 1})

    def invoke() -> None:
        response = client.invoke(FunctionName="bench", Payload=payload)
        body = response["Payload"].read()  # as a real caller does; it also frees the pooled connection
        if "FunctionError" in response:
            raise RuntimeError(body)

    colds = []
    for index in range(cold):
        client.update_function_configuration(FunctionName="bench", Environment={"Variables": {"ROUND": str(index)}})
        colds.extend(timed(invoke, 1))
    timed(invoke, 20)
    warms = timed(invoke, warm)

    client.create_function(
        FunctionName="stubborn",
        Runtime="python3.11",
        Role="arn:aws:iam::123456789012:role/bench",
        Handler="bench_handler.stubborn",
        Code={"ZipFile": package.getvalue()},
        Timeout=1,
    )
    started = time.perf_counter()
    client.invoke(FunctionName="stubborn")
    stubborn = time.perf_counter() - started
    return {
        "warm_p50": percentile(warms, 0.5),
        "warm_p99": percentile(warms, 0.99),
        "cold_p50": statistics.median(colds),
        "stubborn_s": stubborn,
    }


def bench_python_lambda_local(workdir: Path, warm: int, cold: int) -> dict[str, float]:
    from lambda_local.context import Context
    from lambda_local.main import call

    logging.getLogger().setLevel(logging.WARNING)  # lambda_local logs every call at INFO on stdout
    sys.path.insert(0, str(workdir))
    import bench_handler  # type: ignore[import-not-found]

    event = {"n": 1}
    timed(lambda: call(bench_handler.handler, event, Context(3)), 20)
    warms = timed(lambda: call(bench_handler.handler, event, Context(3)), warm)

    event_file = workdir / "event.json"
    event_file.write_text(json.dumps(event))
    cli = str(Path(sys.executable).with_name("python-lambda-local"))

    def run_cli(function: str, timeout: int) -> None:
        subprocess.run(
            [cli, "-f", function, "-t", str(timeout), str(workdir / "bench_handler.py"), str(event_file)],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    colds = timed(lambda: run_cli("handler", 3), cold)
    started = time.perf_counter()
    run_cli("stubborn", 1)
    stubborn = time.perf_counter() - started
    return {
        "warm_p50": percentile(warms, 0.5),
        "warm_p99": percentile(warms, 0.99),
        "cold_p50": statistics.median(colds),
        "stubborn_s": stubborn,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warm", type=int, default=500, help="warm invokes measured (default 500)")
    parser.add_argument("--cold", type=int, default=10, help="cold starts measured (default 10)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "bench_handler.py").write_text(HANDLER_SOURCE)
        with lambda_service(workdir / "state") as url:
            service = bench_service(url, args.warm, args.cold)
        local = bench_python_lambda_local(workdir, args.warm, args.cold)

    rows = [
        ("warm invoke p50 (ms)", "warm_p50", "{:.2f}"),
        ("warm invoke p99 (ms)", "warm_p99", "{:.2f}"),
        ("cold start p50 (ms)", "cold_p50", "{:.1f}"),
        ("1 s timeout, handler swallowing exceptions for 3 s: elapsed (s)", "stubborn_s", "{:.2f}"),
    ]
    header = ("metric", "baton lambda service", "python-lambda-local", "ratio baton/pll")
    table = [header] + [
        (label, fmt.format(service[key]), fmt.format(local[key]), f"{service[key] / local[key]:.2f}")
        for label, key, fmt in rows
    ]
    widths = [max(len(row[column]) for row in table) for column in range(len(header))]
    print(f"\nLambda invoke, same handler, {args.warm} warm invokes, {args.cold} cold starts, {os.cpu_count()} cores")
    for index, row in enumerate(table):
        print(
            "  ".join(
                cell.ljust(width) if column == 0 else cell.rjust(width)
                for column, (cell, width) in enumerate(zip(row, widths, strict=True))
            )
        )
        if index == 0:
            print("  ".join("-" * width for width in widths))
    warm_ok = service["warm_p50"] <= 10
    cold_ok = service["cold_p50"] <= 1000
    print(
        f"\ntargets: warm p50 <= 10 ms {'met' if warm_ok else 'MISSED'}; "
        f"cold start <= 1 s {'met' if cold_ok else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
