"""A PostgreSQL server on loopback for Dagster's storage: `baton stack up --with-postgres`.

SQLite under the Dagster home stays the embedded default; this server is how a developer (and
the tests) run Dagster on the storage a deployment uses, with the same `DAGSTER_PG_*` variables.
It is Debian's `postgresql` package, run from its binaries into a cluster of its own under the
stack home (`postgres/`), listening on 127.0.0.1 only, with no Unix socket, and a password
made once and kept in the home, readable by its owner only.

PostgreSQL refuses to run as root. Run as root (as in a container), the server runs as the
package's `postgres` user, so its cluster must be in a folder that user can reach.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import stat
import subprocess
from pathlib import Path

__all__ = ["DATABASE", "USER", "LocalPostgres", "PostgresError", "postgres_bin_dir"]

DATABASE = "dagster"
USER = "dagster"
HOST = "127.0.0.1"
SERVICE_USER = "postgres"
"""The system user Debian's package creates; the server runs as it when we are root."""


class PostgresError(RuntimeError):
    """The server could not be found, set up, started or stopped; the message says which and why."""


def postgres_bin_dir() -> Path:
    """Where `initdb`, `pg_ctl` and `createdb` are: on the PATH, else Debian's newest version."""
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(os.path.realpath(on_path)).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise PostgresError(
            "PostgreSQL's server is not installed (no pg_ctl on the PATH or in /usr/lib/postgresql/*/bin): "
            "install Debian's package with `.ci/postgres-setup` (apt-get install postgresql)"
        )
    return Path(found[-1]).parent


class LocalPostgres:
    """The cluster kept in `<home>/postgres`, its log in `<home>/logs/postgres.log`."""

    def __init__(self, home: Path):
        self.home = home

    @property
    def data_dir(self) -> Path:
        return self.home / "postgres"

    @property
    def password_file(self) -> Path:
        return self.home / "postgres_password"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "postgres.log"

    def port(self) -> int | None:
        """The port of the running server (from its `postmaster.pid`), or None when it is stopped.

        No `postmaster.pid`, no server: then nothing is run, so a machine without PostgreSQL
        installed (which the stack needs only with `--with-postgres`) never reaches `pg_ctl`.
        """
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists() or self._pg_ctl("status").returncode != 0:
            return None
        return int(pid_file.read_text().splitlines()[3])

    def start(self, port: int) -> int:
        """Start the server on `port` (set up the cluster and the database first if new); return its port."""
        running = self.port()
        if running is not None:
            return running
        new = not (self.data_dir / "PG_VERSION").exists()
        if new:
            self._init_cluster()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.touch()
        self._own(self.log_file)
        options = f"-c listen_addresses={HOST} -p {port} -c unix_socket_directories=''"
        result = self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log_file), "-o", options)
        if result.returncode != 0:
            raise PostgresError(f"PostgreSQL did not start on port {port}: {result.stderr.strip()}\n{self._log_tail()}")
        if new:
            self._run("createdb", "-h", HOST, "-p", str(port), "-U", USER, DATABASE)
        return port

    def stop(self) -> bool:
        """Stop the server if it runs (fast shutdown: sessions are closed, nothing committed is lost)."""
        if self.port() is None:
            return False
        result = self._pg_ctl("stop", "-w", "-t", "60", "-m", "fast")
        if result.returncode != 0:
            raise PostgresError(f"PostgreSQL did not stop: {result.stderr.strip()}")
        return True

    def environment(self) -> dict[str, str]:
        """The `DAGSTER_PG_*` variables that point Dagster's storage (`baton instance`) at this server."""
        port = self.port()
        if port is None:
            raise PostgresError("the local PostgreSQL is not running: start it with `baton stack up --with-postgres`")
        return {
            "DAGSTER_PG_HOST": HOST,
            "DAGSTER_PG_PORT": str(port),
            "DAGSTER_PG_DB": DATABASE,
            "DAGSTER_PG_USER": USER,
            "DAGSTER_PG_PASSWORD": self._password(),
        }

    def _init_cluster(self) -> None:
        self._check_reachable()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._own(self.data_dir)
        self._password()
        self._own(self.password_file)
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            USER,
            "--auth=scram-sha-256",
            f"--pwfile={self.password_file}",
            "-E",
            "UTF8",
            "--no-instructions",
        )

    def _password(self) -> str:
        if not self.password_file.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            self.password_file.touch(mode=0o600)
            self.password_file.write_text(secrets.token_urlsafe(24))
        return self.password_file.read_text().strip()

    def _as_service_user(self) -> bool:
        return os.geteuid() == 0

    def _own(self, path: Path) -> None:
        if self._as_service_user():
            user = pwd.getpwnam(SERVICE_USER)
            os.chown(path, user.pw_uid, user.pw_gid)

    def _check_reachable(self) -> None:
        """As root the server runs as `postgres`, which must be able to enter every folder above its cluster."""
        if not self._as_service_user():
            return
        try:
            pwd.getpwnam(SERVICE_USER)
        except KeyError as exc:
            raise PostgresError(
                f"no {SERVICE_USER!r} user to run PostgreSQL as (we are root; it refuses root)"
            ) from exc
        for folder in [self.home.resolve(), *self.home.resolve().parents]:
            if folder.exists() and not folder.stat().st_mode & stat.S_IXOTH:
                raise PostgresError(
                    f"PostgreSQL runs as {SERVICE_USER!r} (it refuses root), which cannot enter {folder}: "
                    "put the stack home (BATON_HOME) under a folder other users may enter"
                )

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(postgres_bin_dir() / program), *args]
        return ["runuser", "-u", SERVICE_USER, "--", *command] if self._as_service_user() else command

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = self._command("pg_ctl", "-D", str(self.data_dir), *args)
        # The server writes to its log (-l), never to pg_ctl's pipes, so capturing them cannot hang.
        return subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)

    def _run(self, program: str, *args: str) -> None:
        env = {**os.environ, "PGPASSWORD": self._password()}
        result = subprocess.run(
            self._command(program, *args),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        if result.returncode != 0:
            raise PostgresError(f"{program} failed: {(result.stderr or result.stdout).strip()}")

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"
