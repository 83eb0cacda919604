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
import contextlib
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
import traceback
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from lambda_workers.chain.cursor_store import parameter_name
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
CALL_SECONDS = 20  # the soak's bound on a call of its own to a service
WAREHOUSE_BOUNDS = {"network_timeout": 60, "socket_timeout": 60, "login_timeout": 30}
LOAD_SECONDS = 120  # past --trial-seconds, for the lake build, the load and the comparison
SLOW_TICK_SECONDS = 30
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
    where: str | None = None  # a stuck trial: the step it was in, and where its threads were
    history: list[str] | None = None  # a trial not done: its record's versions (status, link, cursor, error)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--relay-share", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--ssm-tps", type=float, default=0.0, help="throttle SSM like AWS (0: off)")
    parser.add_argument("--trial-seconds", type=float, default=240.0, help="a trial past this is stuck")
    args = parser.parse_args()
    began = time.monotonic()
    ends_at = began + args.minutes * 60
    results: list[Trial] = []
    soak: Soak | None = None
    # SIGTERM and Ctrl-C stop the soak: before the trials run, at once (the stack is stopped on the
    # way out); once they run, the main loop notices, reports the trials in flight as interrupted,
    # prints the summary and stops the stack. A second signal leaves at once either way.
    interrupted = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        first = not interrupted.is_set()
        interrupted.set()
        if soak is not None:
            soak.stop.set()
        if not first or soak is None or not soak.running:
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        with tempfile.TemporaryDirectory(prefix="baton-soak-", ignore_cleanup_errors=True) as home:
            print(json.dumps({"soak_home": home, "pid": os.getpid()}), file=sys.stderr, flush=True)
            with _stack(Path(home)) as stack:
                soak = Soak(stack, args)
                try:
                    soak.run(ends_at, interrupted, results)
                finally:
                    soak.close()
    except KeyboardInterrupt:
        interrupted.set()
    finally:
        summary = _summary(args, results, soak, began)
        summary["interrupted"] = interrupted.is_set()
        print(json.dumps(summary), flush=True)
    if interrupted.is_set():
        return 130
    return 0 if summary["lost"] == summary["duplicated"] == summary["stuck"] == 0 else 1


def _summary(args: argparse.Namespace, results: list[Trial], soak: Soak | None, began: float) -> dict[str, Any]:
    chaos_counts = soak.chaos_counts if soak is not None else Counter()
    return {
        "trials": len(results),
        "lost": sum(t.lost for t in results),
        "duplicated": sum(t.duplicated for t in results),
        "stuck": sum(t.status == "stuck" for t in results),
        "failed_cleanly": sum(t.status == "failed_cleanly" for t in results),
        "done": sum(t.status == "done" for t in results),
        "relay": sum(t.mode == ChainMode.RELAY for t in results),
        "faults": dict(Counter(f for t in results for f in t.faults) + chaos_counts),
        "seed": args.seed,
        "ssm_tps": args.ssm_tps or None,
        "minutes": round((time.monotonic() - began) / 60, 1),
        "not_run": args.trials - len(results),
        "abandoned_threads": soak.abandoned if soak is not None else 0,
    }


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
        try:
            stack.down()
        finally:
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
        self.running = False  # the trials have begun: a signal then stops them through the main loop
        self.abandoned = 0  # trial threads given up on past their bound (daemons: they die with the soak)
        self.chaos_counts: Counter[str] = Counter()
        self.trial_threads: dict[int, list[threading.Thread]] = {}  # a trial's own and its drivers'
        env = stack.environment()
        self.vendor = env["BATON_VENDOR_MARKETS_BASE_URL"]
        _post(self.vendor + "/admin/config", {"instruments": INSTRUMENTS})
        _post(self.vendor + "/admin/knobs", BASE_KNOBS)
        settings = load_settings()
        self.resources = build_resources(settings)
        snowflake = self.resources["snowflake"]
        self.resources["snowflake"] = type(snowflake)(
            **{
                **snowflake.model_dump(),
                # The soak's own bound on each warehouse call: the platform's 600 s would outlast a trial.
                "additional_snowflake_connection_args": {
                    **(snowflake.additional_snowflake_connection_args or {}),
                    **WAREHOUSE_BOUNDS,
                },
            }
        )
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
        self.warehouse_holder: tuple[int, float] | None = None  # (trial, since) holding the lock
        # The soak's own client for the relay start's Event invoke, which Lambda answers at once:
        # bounded, unlike the platform's (a synchronous link may run 15 minutes).
        self.launcher = boto3.client(
            "lambda",
            region_name=settings.aws.region,
            config=Config(read_timeout=CALL_SECONDS, connect_timeout=5, retries={"max_attempts": 0}),
        )
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

    def run(self, ends_at: float, interrupted: threading.Event, results: list[Trial]) -> None:
        """Run the trials, at most `--concurrency` at a time, each in a daemon thread with a hard bound.

        A trial is reported when it ends or, still running past its bound, as stuck with where it
        was (its thread is abandoned); no trial starts once `--minutes` is up or a signal came.
        """
        self.running = True
        chaos = self._daemon(self.chaos, "chaos", ends_at)
        watchdog = self._daemon(self.watch, "watchdog")
        pending = list(range(self.args.trials))
        live: dict[int, tuple[threading.Thread, Trial, float]] = {}
        bound = self.args.trial_seconds + LOAD_SECONDS
        try:
            while pending or live:
                if interrupted.is_set():
                    for _number, (thread, trial, started) in sorted(live.items()):
                        report = self._report(trial, thread, started)
                        report.status, report.where = "interrupted", f"interrupted in {trial.where}"
                        print(json.dumps(asdict(report)), flush=True)
                    return
                while pending and len(live) < self.args.concurrency and time.monotonic() < ends_at:
                    number = pending.pop(0)
                    rng = random.Random(self.args.seed * 1_000_003 + number)
                    mode = ChainMode.RELAY if rng.random() < self.args.relay_share else ChainMode.DRIVEN
                    trial = Trial(number, str(mode), self.days[number], where="starting")
                    thread = self._daemon(self.trial, f"trial-{number}", trial, rng)
                    live[number] = (thread, trial, time.monotonic())
                if time.monotonic() >= ends_at:
                    pending.clear()  # not started in time: not run
                for number, (thread, trial, started) in sorted(live.items()):
                    if thread.is_alive() and time.monotonic() - started < bound:
                        continue
                    del live[number]
                    report = self._report(trial, thread, started)
                    if thread.is_alive():
                        self.abandoned += 1
                        report.status = "stuck"
                        stacks = _stacks(self.trial_threads.get(number, []))
                        report.where = f"past its {bound:.0f} s bound in {trial.where}: {stacks}"
                    results.append(report)
                    print(json.dumps(asdict(report)), flush=True)
                interrupted.wait(0.2)
        finally:
            self.stop.set()
            chaos.join(timeout=5)
            watchdog.join(timeout=5)

    def _report(self, trial: Trial, thread: threading.Thread, started: float) -> Trial:
        """A copy of the trial as it stands (its thread may still change the original)."""
        report = dataclasses.replace(trial, faults=list(trial.faults))
        if thread.is_alive():
            report.seconds = round(time.monotonic() - started, 1)
        return report

    def _daemon(self, target: Any, name: str, *args: Any) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self.stop.set()
        with contextlib.suppress(Exception):
            self._resources_cm.__exit__(None, None, None)

    def trial(self, trial: Trial, rng: random.Random) -> None:
        """One trial, in its own thread; `trial` records its step (`where`) as it goes, and its outcome."""
        self.trial_threads[trial.trial] = [threading.current_thread()]
        mode = ChainMode(trial.mode)
        chain = ChainAddress("prices", trial.day)
        started = time.monotonic()
        deadline = started + self.args.trial_seconds
        try:
            record = self._extract(trial, chain, mode, rng, deadline)
            if record is None:
                trial.status = "stuck"
                trial.where = f"{trial.where}: the chain did not end within {self.args.trial_seconds:.0f} s"
                last, _ = self.chains.store().load(self.chains.deployment, chain)
                if last is not None:
                    trial.links, trial.restarts = last.link, last.restarts
                    trial.error = f"last record: {last.status} link {last.link}, error {last.last_error}"
                trial.history = self._history(chain)
                return
            trial.links, trial.restarts = record.link, record.restarts
            if record.status != ChainStatus.DONE:
                trial.status = "failed_cleanly" if record.last_error else "stuck"
                trial.error = record.last_error
                trial.where = None if trial.status == "failed_cleanly" else trial.where
                trial.history = self._history(chain)
                return
            self._check_in_warehouse(trial, chain, started + self.args.trial_seconds + LOAD_SECONDS)
            trial.status = "done"
            trial.where = None
        except Exception as exc:  # a trial's own failure is reported, never hidden
            trial.status = "stuck"
            trial.error = f"{type(exc).__name__}: {exc}"[:500]
        finally:
            trial.seconds = round(time.monotonic() - started, 1)

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
            self._launch(trial, event)
            if duplicate:
                trial.where = "duplicate launch"
                self._invoke_async(trial, event)  # an at-least-once delivery of the first link
        else:
            self._start_drivers(trial, event, deadline, 2 if duplicate else 1)
        if halt:
            trial.where = "halt"
            time.sleep(rng.uniform(0.5, 3.0))
            self.chains.halt(chain)
            trial.where = "waiting for the halt"
            self._wait(chain, deadline, until=lambda r: r.status != ChainStatus.RUNNING)
            trial.where = "resuming after the halt"
            self.chains.store().set_halt(self.chains.deployment, chain, False)
            if mode == ChainMode.RELAY:
                self._launch(trial, event)
            else:
                self._start_drivers(trial, event, deadline, 1)
        trial.where = f"waiting for the {mode} chain to end"
        return self._wait(chain, deadline, until=_finished)

    def _history(self, chain: ChainAddress) -> list[str]:
        """The chain record's versions, oldest first, in short: the evidence for a trial that did not end done."""
        name = parameter_name(self.chains.deployment, chain)
        versions: list[str] = []
        with contextlib.suppress(Exception):
            pages = self.chains.ssm().get_paginator("get_parameter_history").paginate(Name=name)
            for page in pages:
                for item in page["Parameters"]:
                    r = json.loads(item["Value"])
                    versions.append(
                        f"v{item['Version']} {r.get('status')} link={r.get('link')} cursor={r.get('cursor')} "
                        f"restarts={r.get('restarts')} req={str(r.get('last_request_id'))[:8]} "
                        f"error={str(r.get('last_error'))[:120]}"
                    )
        return versions

    def _launch(self, trial: Trial, event: Any) -> None:
        """`ChainResource.launch`, with the Event invoke through the soak's bounded client."""
        trial.where = "register"
        self.chains.store().set_halt(self.chains.deployment, event.chain, False)
        self.chains.register(event)
        self._invoke_async(trial, event)

    def _invoke_async(self, trial: Trial, event: Any) -> None:
        """The relay run's launch; one that fails is retried, as Dagster retries the run that raised.

        A launch that fails fails its Dagster run (the run's retry policy, or a person, launches
        again); a chain that is new is registered and so resumed by the watchdog too, but a
        resumed (halted) one has only its run to move it.
        """
        trial.where = "launch (Event invoke)"
        for _ in range(10):
            try:
                self.launcher.invoke(
                    FunctionName=self.chains.function_name, InvocationType="Event", Payload=json.dumps(event.to_dict())
                )
                return
            except (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError) as exc:
                trial.faults.append(f"launch_{type(exc).__name__}")
                if self.stop.wait(2.0):
                    return

    def _start_drivers(self, trial: Trial, event: Any, deadline: float, copies: int) -> None:
        trial.where = "starting the driver"
        for _ in range(copies):
            thread = self._daemon(self._drive, f"drive-{trial.trial}", event, deadline)
            self.trial_threads[trial.trial].append(thread)

    def _drive(self, event: Any, deadline: float) -> None:
        """A driven run, retried like a Dagster run with a retry policy until its chain has ended."""
        for _ in range(20):
            if self.stop.is_set() or time.monotonic() > deadline:
                return
            try:
                result = self.chains.drive(event, lambda _result: None)
            except Exception:  # the run failed (a link died three times): Dagster retries the run
                self.stop.wait(1)
                continue
            if result.status in (ChainStatus.DONE, ChainStatus.FAILED, ChainStatus.HALTED):
                return

    def _wait(self, chain: ChainAddress, deadline: float, until: Any) -> Any:
        store = self.chains.store()
        while time.monotonic() < deadline and not self.stop.is_set():
            record, _ = store.load(self.chains.deployment, chain)
            if record is not None and until(record):
                return record
            time.sleep(0.5)
        return None

    def _check_in_warehouse(self, trial: Trial, chain: ChainAddress, bound: float) -> None:
        partition = chain.partition
        trial.where = "lake build"
        client = self.live.lake.client()
        build = build_lake_partition(client, self.bucket, PRICES, PRICES.raw_prefix(partition), partition)
        trial.where = "waiting for the warehouse lock"
        if not self.warehouse_lock.acquire(timeout=max(0.0, bound - time.monotonic())):
            holder = self.warehouse_holder
            held = f"trial {holder[0]} for {time.monotonic() - holder[1]:.0f} s" if holder else "nobody now"
            raise TimeoutError(f"the warehouse lock was not free in time (held by {held})")
        try:
            self.warehouse_holder = (trial.trial, time.monotonic())
            trial.where = "warehouse load"
            with self.live.snowflake.get_connection() as conn:
                load_partition(conn, PRICES, partition, build.files)
                trial.where = "warehouse compare"
                with conn.cursor() as cur:
                    columns = ", ".join(name.upper() for name in VALUE_COLUMNS)
                    cur.execute(f"SELECT {columns} FROM {PRICES.table} WHERE _PARTITION = %s", (partition,))
                    landed = Counter(_row(dict(zip(VALUE_COLUMNS, row, strict=True))) for row in cur.fetchall())
        finally:
            self.warehouse_holder = None
            self.warehouse_lock.release()
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
            for _ in range(100):  # gone, or exited and not yet reaped (a zombie: `up` started it here)
                if _exited(service.pid):
                    break
                time.sleep(0.1)
        self.stack.up()

    def watch(self) -> None:
        """The watchdog sensor, ticked as the Dagster daemon ticks it, with its cursor carried over."""
        from platform_defs.automation.watchdog import chain_watchdog

        cursor: str | None = None
        while not self.stop.is_set():
            tick = time.monotonic()
            try:
                with dg.build_sensor_context(cursor=cursor, resources=self.resources) as context:
                    result = chain_watchdog(context)
                cursor = result.cursor if isinstance(result, dg.SensorResult) and result.cursor else context.cursor
            except Exception as exc:  # the daemon logs a failed tick and ticks again
                print(json.dumps({"watchdog_error": f"{type(exc).__name__}: {exc}"[:300]}), file=sys.stderr)
            if time.monotonic() - tick > SLOW_TICK_SECONDS:
                print(json.dumps({"watchdog_slow_tick_s": round(time.monotonic() - tick, 1)}), file=sys.stderr)
            self.stop.wait(1.0)


def _exited(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def _stacks(threads: list[threading.Thread]) -> str:
    """Where each live thread of a trial is: its innermost frames in the soak and the platform."""
    frames = sys._current_frames()
    where = []
    for thread in threads:
        frame = frames.get(thread.ident or -1)
        if frame is None or not thread.is_alive():
            continue
        stack = [f for f in traceback.extract_stack(frame) if "site-packages" not in f.filename]
        inner = traceback.extract_stack(frame)[-1]
        ours = " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack[-4:]))
        where.append(f"[{thread.name}: {Path(inner.filename).name}:{inner.lineno} {inner.name} < {ours}]")
    return " ".join(where) or "no live thread"


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
