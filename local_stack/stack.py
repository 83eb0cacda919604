"""Start, stop and inspect the local stack: one process per service, recorded in the stack home.

The record (`stack.json`) is what makes `up` idempotent and `down` exact: `up` keeps a service
that is recorded, alive and healthy; `down` signals only the recorded processes, after checking
through /proc that each pid still runs the recorded module (a pid can be reused after a crash).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3

from local_stack.postgres import DATABASE, LocalPostgres, PostgresError
from local_stack.services import SERVICES, ServiceSpec, service_named
from platform_defs.instance_config import write_dagster_home

__all__ = [
    "DEPLOYMENT",
    "LOCAL_CREDENTIALS",
    "PLATFORM_SETTINGS",
    "VENDOR_SECRET_PARAMETER",
    "LocalStack",
    "RunningService",
    "ServiceStatus",
    "StackError",
]

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "baton-local",
    "AWS_SECRET_ACCESS_KEY": "baton-local",
    "AWS_DEFAULT_REGION": "us-east-1",
}


DEPLOYMENT = "local"
POSTGRES_PORT_VARIABLE = "BATON_POSTGRES_PORT"
POSTGRES_DEFAULT_PORT = 5433
"""Not 5432, which a system PostgreSQL may hold."""
VENDOR = "markets"
"""The built-in vendor: the local vendor API serves its datasets."""
VENDOR_SECRET_PARAMETER = f"/baton/{DEPLOYMENT}/secrets/{VENDOR}"
SECRETS_PATH = "/baton/"
"""Every SecureString below this path survives `down`/`up` (moto keeps parameters in memory only)."""
PLATFORM_SETTINGS = {
    "BATON_ENV": "local",
    "BATON_DEPLOYMENT": DEPLOYMENT,
    "BATON_LAKE_BUCKET": "baton-lake",
    "BATON_CHAIN_ROLE_ARN": "arn:aws:iam::123456789012:role/baton-chain",
    "BATON_ALERT_SENDER": "baton@baton.local",
    "BATON_ALERT_RECIPIENTS": "data-engineering@baton.local",
    "SNOWFLAKE_ACCOUNT": "baton",
    "SNOWFLAKE_USER": "baton",
    "SNOWFLAKE_PASSWORD": "baton-local",  # the local Snowflake's, which guards nothing
    "SNOWFLAKE_DATABASE": "BATON",
    "SNOWFLAKE_WAREHOUSE": "BATON_WH",
}
"""The platform's settings for this stack: the variables production sets for real AWS and Snowflake."""


class StackError(RuntimeError):
    """The stack could not be started or stopped; the message says which service and why."""


@dataclass(frozen=True)
class RunningService:
    """One started service, as recorded in `stack.json`."""

    name: str
    module: str
    pid: int
    port: int
    url: str
    log: str

    @property
    def health_url(self) -> str:
        return self.url + service_named(self.name).health_path


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str  # "healthy", "unhealthy" (process alive, not answering) or "stopped"
    url: str | None
    pid: int | None


class LocalStack:
    """The stack rooted at one home folder (see `local_stack.home.stack_home`)."""

    def __init__(self, home: Path, ports: Mapping[str, int] | None = None, environ: Mapping[str, str] | None = None):
        self.home = home
        self._environ = dict(os.environ if environ is None else environ)
        self._ports = dict(ports or {})

    @property
    def state_file(self) -> Path:
        return self.home / "stack.json"

    def port_for(self, spec: ServiceSpec) -> int:
        """Port from the explicit mapping, else `$BATON_<NAME>_PORT`, else the default; 0 picks a free one."""
        if spec.name in self._ports:
            return self._ports[spec.name]
        configured = self._environ.get(spec.port_variable)
        if configured is None:
            return spec.default_port
        if not configured.isdigit() or not 0 <= int(configured) <= 65535:
            raise StackError(f"{spec.port_variable}={configured!r} is not a port number (0-65535)")
        return int(configured)

    def running(self) -> dict[str, RunningService]:
        """The recorded services whose processes are still ours and alive."""
        return {name: svc for name, svc in self._read_state().items() if _is_ours(svc)}

    def up(self, timeout: float = 60.0, with_postgres: bool = False) -> dict[str, RunningService]:
        """Start every service that is not already running and healthy; return all of them.

        With `with_postgres`, PostgreSQL too, and the Dagster home's storage points at it.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        with self._locked():
            services = self.running()
            for name, svc in list(services.items()):
                if not _healthy(svc.health_url):
                    logger.warning("service %s (pid %s) is not healthy: restarting it", name, svc.pid)
                    _terminate(svc)
                    del services[name]
            for spec in SERVICES:
                if spec.name in services:
                    continue
                svc, process = self._start(spec, services)
                services[spec.name] = svc
                self._write_state(services)
                self._wait_healthy(svc, process, timeout)
            self._restore_secrets(services)
            if with_postgres:
                self._start_postgres()
            write_dagster_home(self.dagster_home, environ=self._postgres_environment())
            return services

    def down(self, timeout: float = 15.0) -> list[str]:
        """Stop exactly the processes that `up` started; return the names stopped."""
        with self._locked():
            self._keep_secrets()
            stopped = []
            for svc in reversed(list(self._read_state().values())):
                if _is_ours(svc):
                    _terminate(svc, timeout)
                    stopped.append(svc.name)
            if self.postgres.stop():
                stopped.append("postgres")
            self.state_file.unlink(missing_ok=True)
            return stopped

    def status(self) -> list[ServiceStatus]:
        recorded = self._read_state()
        statuses = []
        for spec in SERVICES:
            svc = recorded.get(spec.name)
            if svc is None or not _is_ours(svc):
                statuses.append(ServiceStatus(spec.name, "stopped", None, None))
            else:
                state = "healthy" if _healthy(svc.health_url) else "unhealthy"
                statuses.append(ServiceStatus(spec.name, state, svc.url, svc.pid))
        port = self.postgres.port()
        if port is not None:  # started only on request (`--with-postgres`), so listed only while it runs
            statuses.append(ServiceStatus("postgres", "healthy", f"postgresql://{HOST}:{port}/{DATABASE}", None))
        return statuses

    def environment(self) -> dict[str, str]:
        """Every variable the platform reads, pointing at this stack: `eval "$(baton stack env)"`.

        boto3 finds the endpoints through `AWS_ENDPOINT_URL[_LAMBDA]`, the Snowflake connector
        through `SNOWFLAKE_HOST`/`_PORT`/`_PROTOCOL`; the platform itself never learns that a
        stack is local.
        """
        services = self.running()
        missing = [spec.name for spec in SERVICES if spec.name not in services]
        if missing:
            raise StackError(
                f"the local stack is not running ({', '.join(missing)} stopped): start it with `baton stack up`"
            )
        snowflake = urlparse(services["snowflake"].url)
        return {
            **PLATFORM_SETTINGS,
            "BATON_HOME": str(self.home),
            "DAGSTER_HOME": str(self.dagster_home),  # `baton run` and `baton dev` record runs in one instance
            **LOCAL_CREDENTIALS,
            "AWS_ENDPOINT_URL": services["aws"].url,
            "AWS_ENDPOINT_URL_LAMBDA": services["lambda"].url,
            f"BATON_VENDOR_{VENDOR.upper()}_BASE_URL": services["vendor"].url,
            "SNOWFLAKE_HOST": str(snowflake.hostname),
            "SNOWFLAKE_PORT": str(snowflake.port),
            "SNOWFLAKE_PROTOCOL": snowflake.scheme,
            **self._postgres_environment(),
        }

    def vendor_api_key(self) -> str:
        """The local vendor's API key: made once, kept in the stack home, readable by the owner only."""
        path = self.home / "vendor_api_key"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(24))
        return path.read_text().strip()

    @property
    def postgres(self) -> LocalPostgres:
        """Dagster's PostgreSQL storage, when started with `up(with_postgres=True)`; SQLite otherwise."""
        return LocalPostgres(self.home)

    def _postgres_environment(self) -> dict[str, str]:
        return self.postgres.environment() if self.postgres.port() is not None else {}

    def _start_postgres(self) -> None:
        spec_port = self._environ.get(POSTGRES_PORT_VARIABLE, str(POSTGRES_DEFAULT_PORT))
        if not spec_port.isdigit():
            raise StackError(f"{POSTGRES_PORT_VARIABLE}={spec_port!r} is not a port number")
        port = self._ports.get("postgres", int(spec_port)) or _free_port()
        if self.postgres.port() is None and not _port_free(port):
            raise StackError(f"port {port} for PostgreSQL is in use; choose another with {POSTGRES_PORT_VARIABLE}=PORT")
        try:
            self.postgres.start(port)
        except PostgresError as exc:
            raise StackError(str(exc)) from exc

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def secrets_file(self) -> Path:
        return self.home / "secrets.json"

    def _ssm(self, url: str) -> Any:
        return boto3.client(
            "ssm",
            endpoint_url=url,
            region_name=LOCAL_CREDENTIALS["AWS_DEFAULT_REGION"],
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def _keep_secrets(self) -> None:
        """Before the local AWS stops, copy its SecureStrings (`baton secrets set` wrote them) to the home.

        The file is readable by the owner only, like the vendor key; a stack that is not running
        keeps the file it has.
        """
        aws = self.running().get("aws")
        if aws is None or not _healthy(aws.health_url):
            return
        kept: dict[str, str] = {}
        pages = self._ssm(aws.url).get_paginator("get_parameters_by_path")
        for page in pages.paginate(Path=SECRETS_PATH, Recursive=True, WithDecryption=True):
            kept.update((p["Name"], p["Value"]) for p in page["Parameters"] if p["Type"] == "SecureString")
        kept.pop(VENDOR_SECRET_PARAMETER, None)  # the built-in key has a file of its own
        self.secrets_file.touch(mode=0o600)
        self.secrets_file.write_text(json.dumps(kept, indent=2, sort_keys=True))

    def _restore_secrets(self, services: Mapping[str, RunningService]) -> None:
        """Put the vendor key, and every secret kept at the last `down`, where workers read them: SSM SecureStrings."""
        kept = json.loads(self.secrets_file.read_text()) if self.secrets_file.exists() else {}
        ssm = self._ssm(services["aws"].url)
        for name, value in {**kept, VENDOR_SECRET_PARAMETER: self.vendor_api_key()}.items():
            ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)

    def _start(
        self, spec: ServiceSpec, started: Mapping[str, RunningService]
    ) -> tuple[RunningService, subprocess.Popen[bytes]]:
        port = self.port_for(spec) or _free_port()
        if not _port_free(port):
            raise StackError(
                f"port {port} for service {spec.name!r} is in use; free it or choose another "
                f"with {spec.port_variable}=PORT (0 picks a free port)"
            )
        state_dir = self.home / spec.name
        state_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.home / "logs" / f"{spec.name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**self._environ, **LOCAL_CREDENTIALS, "PYTHONUNBUFFERED": "1"}
        env.pop("AWS_PROFILE", None)
        if "aws" in started:
            env["AWS_ENDPOINT_URL"] = started["aws"].url
        url = f"http://{HOST}:{port}"
        if spec.name == "lambda":
            # Functions that invoke Lambda themselves (relay mode) reach this same service.
            env["AWS_ENDPOINT_URL_LAMBDA"] = url
        if spec.name == "vendor":
            env["BATON_VENDOR_API_KEY"] = self.vendor_api_key()
        command = spec.command(HOST, port, state_dir)
        with log_path.open("ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {' '.join(command)}\n".encode())
            log.flush()
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        logger.info("started %s (pid %s) on port %s", spec.name, process.pid, port)
        svc = RunningService(spec.name, spec.module, process.pid, port, url, str(log_path))
        return svc, process

    def _wait_healthy(self, svc: RunningService, process: subprocess.Popen[bytes], timeout: float) -> None:
        """Poll the health URL; the Popen handle, not /proc, tells whether it died (no exec race)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _healthy(svc.health_url):
                return
            if process.poll() is not None:
                raise StackError(f"service {svc.name!r} exited while starting; its log:\n{_tail(svc.log)}")
            time.sleep(0.1)
        _terminate(svc)
        raise StackError(f"service {svc.name!r} was not healthy after {timeout:.0f} s; its log:\n{_tail(svc.log)}")

    def _read_state(self) -> dict[str, RunningService]:
        try:
            raw = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return {}
        except json.JSONDecodeError as exc:
            raise StackError(
                f"{self.state_file} is not valid JSON ({exc}); stop stray processes and delete it"
            ) from exc
        return {name: RunningService(**record) for name, record in raw["services"].items()}

    def _write_state(self, services: Mapping[str, RunningService]) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"services": {n: asdict(s) for n, s in services.items()}}, indent=2))
        tmp.replace(self.state_file)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise `up` and `down`, so two callers never start the same service twice."""
        self.home.mkdir(parents=True, exist_ok=True)
        with (self.home / "stack.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield


def _is_ours(svc: RunningService) -> bool:
    """True if the pid is alive and still runs the recorded module (Linux /proc)."""
    try:
        cmdline = Path(f"/proc/{svc.pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return False
    return svc.module.encode() in cmdline and f"{svc.port}".encode() in cmdline


def _terminate(svc: RunningService, timeout: float = 15.0) -> None:
    """SIGTERM the service's process group, then SIGKILL whatever is left after the timeout."""
    try:
        os.killpg(svc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _is_ours(svc) or _is_zombie(svc.pid):
            return
        time.sleep(0.05)
    logger.warning("service %s (pid %s) ignored SIGTERM for %.0f s: killing it", svc.name, svc.pid, timeout)
    with suppress(ProcessLookupError):
        os.killpg(svc.pid, signal.SIGKILL)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (FileNotFoundError, IndexError):
        return True


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _tail(path: str, lines: int = 30) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
