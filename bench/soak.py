"""Soak: seeded randomized chains under faults, each checked row for row in the warehouse.

    .venv/bin/python bench/soak.py --trials N --seed S --minutes M [--relay-share F] [--ssm-tps T]

Runs on a stack of its own (free loopback ports, a temporary home) with the deployed worker in the
local Lambda service. Each trial extracts one day of prices as a chain of its own (relay or driven,
by `--relay-share`), then builds its lake partition and loads it into Snowflake, where its rows are
compared with the vendor's own rows for that day, fetched before any fault was switched on. While
trials run, a chaos loop (seeded too) SIGKILLs Lambda runtime processes, turns the vendor's fault
knobs (5xx, 429 bursts, truncated bodies, latency, a vendor that hangs past the link deadline),
restarts the Lambda service, and throttles SSM at `--ssm-tps`; trials add duplicate deliveries and
a halt followed by a resume. Relay chains recover through the platform's watchdog, ticked here as
the Dagster daemon would tick it; driven chains through their driver, re-run like a Dagster retry.

Prints one JSON line per trial and a last line
`{"trials", "lost", "duplicated", "stuck", "failed_cleanly", ...}`. Bounded in count and time:
trials not started when `--minutes` is up are not run, and every trial has its own bound, past
which it counts as stuck.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg

from lambda_workers.chain.status import ChainMode, ChainStatus
from lambda_workers.events import ChainAddress
from local_stack.services import SERVICES
from local_stack.stack import LocalStack
from local_stack.vendor_api.business_days import bday_index, date_of_bday
from local_stack.vendor_api.config import VendorConfig
from local_stack.vendor_api.market import Market
from platform_defs.chain_clients import lambda_client
from platform_defs.datasets import DATASETS
from platform_defs.deploy import deploy_chain_function
from platform_defs.lake import build_lake_partition
from platform_defs.resources.build import build_resources
from platform_defs.settings import load_settings
from platform_defs.warehouse import ensure_stage, ensure_table, load_partition

INSTRUMENTS = 1200  # rows per day
PAGE_ROWS = 50
LINK_SECONDS = 2
BASE_KNOBS = {"latency_ms": 100}  # 24 pages of at least 0.1 s: more than a 2 s link holds, on any machine
CHECKPOINT_SECONDS = 0.5  # checkpoints inside every link, so kills land between them
PRICES = DATASETS["prices"]
VALUE_COLUMNS = ("symbol", "date", "open", "high", "low", "close", "volume")


@dataclass
class Trial:
    trial: int
    mode: str
    day: str
    faults: list[str] = field(default_factory=list)
    status: str = "stuck"
    rows: int = 0
    lost: int = 0
    duplicated: int = 0
    links: int = 0
    restarts: int = 0
    seconds: float = 0.0
    error: str | None = None


def main() -> int:
    # A SIGTERM stops the soak like Ctrl-C: the stack it started is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(130))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--relay-share", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--ssm-tps", type=float, default=0.0, help="throttle SSM like AWS (0: off)")
    parser.add_argument("--trial-seconds", type=float, default=240.0, help="a trial past this is stuck")
    args = parser.parse_args()
    ends_at = time.monotonic() + args.minutes * 60
    with tempfile.TemporaryDirectory() as home, _stack(Path(home)) as stack:
        soak = Soak(stack, args)
        results: list[Trial] = []
        with ThreadPoolExecutor(args.concurrency, thread_name_prefix="trial") as pool:
            chaos = threading.Thread(target=soak.chaos, args=(ends_at,), daemon=True)
            watchdog = threading.Thread(target=soak.watch, daemon=True)
            chaos.start()
            watchdog.start()
            futures = [pool.submit(soak.trial, i, ends_at) for i in range(args.trials)]
            for future in futures:
                trial = future.result()
                if trial is not None:
                    results.append(trial)
                    print(json.dumps(asdict(trial)), flush=True)
            soak.stop.set()
            chaos.join(timeout=30)
            watchdog.join(timeout=30)
        summary = {
            "trials": len(results),
            "lost": sum(t.lost for t in results),
            "duplicated": sum(t.duplicated for t in results),
            "stuck": sum(t.status == "stuck" for t in results),
            "failed_cleanly": sum(t.status == "failed_cleanly" for t in results),
            "done": sum(t.status == "done" for t in results),
            "relay": sum(t.mode == ChainMode.RELAY for t in results),
            "faults": dict(Counter(f for t in results for f in t.faults) + soak.chaos_counts),
            "seed": args.seed,
            "ssm_tps": args.ssm_tps or None,
            "minutes": round((time.monotonic() - (ends_at - args.minutes * 60)) / 60, 1),
        }
        print(json.dumps(summary), flush=True)
        return 0 if summary["lost"] == summary["duplicated"] == summary["stuck"] == 0 else 1


@contextmanager
def _stack(home: Path) -> Iterator[LocalStack]:
    """A stack of the soak's own on fixed free ports (a restarted service comes back where it was)."""
    ports = {spec.name: _free_port() for spec in SERVICES}
    stack = LocalStack(home, ports=ports, environ={**os.environ, "BATON_LAMBDA_RETRY_DELAY_SCALE": str(1 / 60)})
    saved = dict(os.environ)
    try:
        stack.up()
        os.environ.update(stack.environment())
        yield stack
    finally:
        stack.down()
        os.environ.clear()
        os.environ.update(saved)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Soak:
    """The shared parts: resources, the vendor's expected rows, the chaos and the watchdog loops."""

    def __init__(self, stack: LocalStack, args: argparse.Namespace):
        self.stack = stack
        self.args = args
        self.stop = threading.Event()
        self.chaos_counts: Counter[str] = Counter()
        env = stack.environment()
        self.vendor = env["BATON_VENDOR_BASE_URL"]
        _post(self.vendor + "/admin/config", {"instruments": INSTRUMENTS})
        _post(self.vendor + "/admin/knobs", BASE_KNOBS)
        settings = load_settings()
        self.resources = build_resources(settings)
        chains = self.resources["chains"]
        self.resources["chains"] = type(chains)(
            **{
                **chains.model_dump(),
                "function_name": "soak-chain",
                "page_size": PAGE_ROWS,
                # A silent chain is resumed this long after its link's deadline (3 s links here).
                "overdue_margin_seconds": 5,
            }
        )
        self.chains = self.resources["chains"]
        self.bucket = settings.lake_bucket
        deploy_chain_function(
            lambda_client(settings.aws), "soak-chain", settings.chains.role_arn, timeout=LINK_SECONDS, memory_mb=256
        )
        self._resources_cm = dg.build_resources(self.resources)
        self.live = self._resources_cm.__enter__()
        self.live.lake.client()  # the lake bucket, created on first use
        self.market = Market(VendorConfig().updated(_get(self.vendor + "/admin/config")))
        self.days = self._days(args.trials, random.Random(args.seed))
        self.warehouse_lock = threading.Lock()
        with self.live.snowflake.get_connection() as conn, conn.cursor() as cur:
            ensure_stage(cur, self.bucket, None)
            ensure_table(cur, PRICES)
        if args.ssm_tps:
            _post(env["AWS_ENDPOINT_URL"] + "/_baton/ssm-throttle", {"tps": args.ssm_tps})

    def _days(self, trials: int, rng: random.Random) -> list[str]:
        """A day of its own for every trial (a chain is a partition), from the vendor's published history."""
        first, last = self.market.first_day, self.market.last_published_day()
        if trials > last - first + 1:
            raise SystemExit(f"--trials {trials}: the vendor's history has {last - first + 1} days, one per trial")
        return [date_of_bday(index).isoformat() for index in rng.sample(range(first, last + 1), trials)]

    def _vendor_rows(self, day: str) -> Counter[tuple[Any, ...]]:
        """The vendor's own rows for `day`, from its own model (the same code its endpoint serves)."""
        index = bday_index(date.fromisoformat(day))
        symbols = self.market.universe.index_range(None, None)
        rows = self.market.prices.rows_json(index, symbols, 0, len(symbols))
        return Counter(_row(json.loads(row)) for row in rows)

    def trial(self, number: int, ends_at: float) -> Trial | None:
        if time.monotonic() > ends_at or self.stop.is_set():
            return None
        rng = random.Random(self.args.seed * 1_000_003 + number)
        mode = ChainMode.RELAY if rng.random() < self.args.relay_share else ChainMode.DRIVEN
        day = self.days[number]
        trial = Trial(number, str(mode), day)
        chain = ChainAddress("prices", day)
        started = time.monotonic()
        deadline = started + self.args.trial_seconds
        try:
            record = self._extract(trial, chain, mode, rng, deadline)
            if record is None:
                return trial  # stuck
            trial.links, trial.restarts = record.link, record.restarts
            if record.status != ChainStatus.DONE:
                trial.status = "failed_cleanly" if record.last_error else "stuck"
                trial.error = record.last_error
                return trial
            self._check_in_warehouse(trial, chain)
            trial.status = "done"
        except Exception as exc:  # a trial's own failure is reported, never hidden
            trial.status = "stuck"
            trial.error = f"{type(exc).__name__}: {exc}"[:500]
        finally:
            trial.seconds = round(time.monotonic() - started, 1)
        return trial

    def _extract(self, trial: Trial, chain: ChainAddress, mode: ChainMode, rng: random.Random, deadline: float) -> Any:
        event = self.chains.start_event(PRICES, chain, self.bucket, mode=mode)
        event = dataclasses.replace(event, checkpoint_seconds=CHECKPOINT_SECONDS)
        duplicate = rng.random() < 0.3
        halt = rng.random() < 0.2
        if duplicate:
            trial.faults.append("duplicate_delivery")
        if halt:
            trial.faults.append("halt_resume")
        if mode == ChainMode.RELAY:
            self.chains.register(event)
            self.chains.launch(event)
            if duplicate:
                self.chains.launch(event)  # an at-least-once delivery of the first link
        else:
            runs = [threading.Thread(target=self._drive, args=(event,), daemon=True)]
            if duplicate:
                runs.append(threading.Thread(target=self._drive, args=(event,), daemon=True))
            for run in runs:
                run.start()
        if halt:
            time.sleep(rng.uniform(0.5, 3.0))
            self.chains.halt(chain)
            self._wait(chain, deadline, until=lambda r: r.status != ChainStatus.RUNNING)
            self.chains.store().set_halt(self.chains.deployment, chain, False)
            if mode == ChainMode.RELAY:
                self.chains.register(event)
                self.chains.launch(event)
            else:
                threading.Thread(target=self._drive, args=(event,), daemon=True).start()
        return self._wait(chain, deadline, until=_finished)

    def _drive(self, event: Any) -> None:
        """A driven run, retried like a Dagster run with a retry policy until its chain has ended."""
        for _ in range(20):
            try:
                result = self.chains.drive(event, lambda _result: None)
            except Exception:  # the run failed (a link died three times): Dagster retries the run
                time.sleep(1)
                continue
            if result.status in (ChainStatus.DONE, ChainStatus.FAILED, ChainStatus.HALTED):
                return

    def _wait(self, chain: ChainAddress, deadline: float, until: Any) -> Any:
        store = self.chains.store()
        while time.monotonic() < deadline:
            record, _ = store.load(self.chains.deployment, chain)
            if record is not None and until(record):
                return record
            time.sleep(0.5)
        return None

    def _check_in_warehouse(self, trial: Trial, chain: ChainAddress) -> None:
        partition = chain.partition
        client = self.live.lake.client()
        build = build_lake_partition(client, self.bucket, PRICES, PRICES.raw_prefix(partition), partition)
        with self.warehouse_lock, self.live.snowflake.get_connection() as conn:
            load_partition(conn, PRICES, partition, build.files)
            with conn.cursor() as cur:
                columns = ", ".join(name.upper() for name in VALUE_COLUMNS)
                cur.execute(f"SELECT {columns} FROM {PRICES.table} WHERE _PARTITION = %s", (partition,))
                landed = Counter(_row(dict(zip(VALUE_COLUMNS, row, strict=True))) for row in cur.fetchall())
        expected = self._vendor_rows(chain.partition)
        trial.rows = sum(landed.values())
        trial.lost = sum((expected - landed).values())
        trial.duplicated = sum((landed - expected).values())

    def chaos(self, ends_at: float) -> None:
        """Faults that hit every trial running at the time: kills, vendor knobs, restarts, throttling."""
        rng = random.Random(self.args.seed)
        while not self.stop.is_set() and time.monotonic() < ends_at:
            self.stop.wait(rng.uniform(0.5, 2.0))
            try:
                self._strike(rng)
            except Exception as exc:  # a fault that could not be injected is reported, and the soak goes on
                print(json.dumps({"chaos_error": f"{type(exc).__name__}: {exc}"[:300]}), file=sys.stderr, flush=True)
        _post(self.vendor + "/admin/reset", {})

    def _strike(self, rng: random.Random) -> None:
        """One fault, drawn from the seeded stream."""
        draw = rng.random()
        if draw < 0.45:
            if self._kill_a_runtime(rng):
                self.chaos_counts["sigkill_runtime"] += 1
        elif draw < 0.75:
            knobs = rng.choice(
                [
                    {"error_rate": 0.15},
                    {"burst_429": 4, "retry_after_s": 0},
                    {"truncate_rate": 0.1},
                    {"latency_ms": rng.choice([200, 600])},
                    {"latency_ms": (LINK_SECONDS + 1) * 1000},  # a vendor hanging past the link's deadline
                ]
            )
            name = next(iter(knobs))
            self.chaos_counts["vendor_" + ("hang" if knobs.get("latency_ms", 0) > 1000 else name)] += 1
            _post(self.vendor + "/admin/knobs", {**BASE_KNOBS, **knobs, "fail_seed": rng.randrange(1 << 30)})
            self.stop.wait(rng.uniform(1.0, 3.0 if "latency_ms" not in knobs else 2.0))
            _post(self.vendor + "/admin/reset", {})
            _post(self.vendor + "/admin/knobs", BASE_KNOBS)
        elif draw < 0.78:
            self._restart_lambda_service()
            self.chaos_counts["lambda_service_restart"] += 1

    def _kill_a_runtime(self, rng: random.Random) -> bool:
        """SIGKILL one of the Lambda service's runtime processes (a link dies wherever it is)."""
        service = self.stack.running().get("lambda")
        if service is None:
            return False
        runtimes = [pid for pid in _children(service.pid) if b"awslambdaric" in _cmdline(pid)]
        if not runtimes:
            return False
        try:
            os.kill(rng.choice(runtimes), signal.SIGKILL)
        except ProcessLookupError:
            return False
        return True

    def _restart_lambda_service(self) -> None:
        """Stop the Lambda service (its in-memory async queue is lost, as AWS never loses it) and start it again."""
        service = self.stack.running().get("lambda")
        if service is not None:
            os.kill(service.pid, signal.SIGTERM)
            for _ in range(100):
                if not Path(f"/proc/{service.pid}").exists():
                    break
                time.sleep(0.1)
        self.stack.up()

    def watch(self) -> None:
        """The watchdog sensor, ticked as the Dagster daemon ticks it, with its cursor carried over."""
        from platform_defs.automation.watchdog import chain_watchdog

        cursor: str | None = None
        while not self.stop.is_set():
            try:
                with dg.build_sensor_context(cursor=cursor, resources=self.resources) as context:
                    result = chain_watchdog(context)
                cursor = result.cursor if isinstance(result, dg.SensorResult) and result.cursor else context.cursor
            except Exception as exc:  # the daemon logs a failed tick and ticks again
                print(json.dumps({"watchdog_error": f"{type(exc).__name__}: {exc}"[:300]}), file=sys.stderr)
            self.stop.wait(1.0)


def _finished(record: Any) -> bool:
    return record.status in (ChainStatus.DONE, ChainStatus.FAILED)


def _row(record: dict[str, Any]) -> tuple[Any, ...]:
    """A row as comparable values: prices to the cent, the day as text."""
    values = []
    for name in VALUE_COLUMNS:
        value = record.get(name)
        if name in ("open", "high", "low", "close") and value is not None:
            value = round(float(value), 4)
        elif name == "volume" and value is not None:
            value = int(value)
        else:
            value = str(value)
        values.append(value)
    return tuple(values)


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return dict(json.loads(response.read()))


def _post(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()


if __name__ == "__main__":
    sys.exit(main())
