"""Warm execution environments, kept per function revision and reused as Lambda reuses sandboxes.

An invocation takes the most recently used idle environment of the function's current revision,
or starts a new one (a cold start); concurrent invocations therefore run in separate processes.
An environment goes back to the pool only if it is healthy and its revision is still current, so
an update of code or configuration retires the old ones (busy ones as soon as they finish).
Environments idle for longer than the idle timeout are reclaimed, as Lambda reclaims them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping

from local_stack.lambda_service.environments import ExecutionEnvironment
from local_stack.lambda_service.errors import ServiceError
from local_stack.lambda_service.functions import Function
from local_stack.lambda_service.python_runtime import PythonRuntime

__all__ = ["EnvironmentPool"]

logger = logging.getLogger(__name__)


class EnvironmentPool:
    def __init__(
        self,
        environ: Mapping[str, str],
        prune_code: Callable[[str, Iterable[str]], None],
        idle_timeout: float,
        runtime: PythonRuntime,
    ):
        self._environ = dict(environ)
        self._runtime = runtime
        self._prune_code = prune_code
        self._idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._idle: dict[str, list[ExecutionEnvironment]] = {}
        self._busy: set[ExecutionEnvironment] = set()
        self._revisions: dict[str, str] = {}
        self._closing = threading.Event()
        self._reaper = threading.Thread(target=self._reap_idle, name="lambda-idle-reaper", daemon=True)

    def start(self) -> None:
        self._reaper.start()

    def acquire(self, function: Function) -> ExecutionEnvironment:
        """A warm environment of this revision, or a freshly started one."""
        stale: list[ExecutionEnvironment] = []
        chosen = None
        with self._lock:
            if self._closing.is_set():
                raise ServiceError("The local Lambda service is shutting down.")
            self._revisions.setdefault(function.name, function.revision_id)
            idle = self._idle.get(function.name, [])
            while idle:
                candidate = idle.pop()
                if candidate.function.revision_id == function.revision_id and candidate.reusable:
                    chosen = candidate
                    break
                stale.append(candidate)
            if chosen is None:
                chosen = ExecutionEnvironment(function, self._environ, self._runtime)
            self._busy.add(chosen)
        self._retire(stale)
        if chosen.pid is None:
            try:
                chosen.start()
            except Exception:
                with self._lock:
                    self._busy.discard(chosen)
                raise
        return chosen

    def release(self, environment: ExecutionEnvironment) -> None:
        name = environment.function.name
        with self._lock:
            self._busy.discard(environment)
            keep = (
                environment.reusable
                and not self._closing.is_set()
                and self._revisions.get(name) == environment.function.revision_id
            )
            if keep:
                self._idle.setdefault(name, []).append(environment)
        if not keep:
            self._retire([environment])

    def function_changed(self, name: str, function: Function | None) -> None:
        """Registry listener: retire idle environments of an older revision (all of them on delete)."""
        with self._lock:
            if function is None:
                self._revisions.pop(name, None)
                stale = self._idle.pop(name, [])
                doomed = [env for env in self._busy if env.function.name == name]
            else:
                self._revisions[name] = function.revision_id
                idle = self._idle.get(name, [])
                stale = [env for env in idle if env.function.revision_id != function.revision_id]
                self._idle[name] = [env for env in idle if env not in stale]
                doomed = []
        for environment in doomed:
            environment.kill()
        self._retire(stale)

    def environments(self, name: str) -> list[ExecutionEnvironment]:
        with self._lock:
            return [env for env in self._busy if env.function.name == name] + list(self._idle.get(name, []))

    def shutdown(self, timeout: float = 10.0) -> None:
        """Kill every runtime process this pool started and wait for them to exit."""
        self._closing.set()
        with self._lock:
            everything = list(self._busy) + [env for envs in self._idle.values() for env in envs]
            self._idle.clear()
        for environment in everything:
            environment.kill()
        deadline = time.monotonic() + timeout
        for environment in everything:
            environment.wait_closed(max(0.1, deadline - time.monotonic()))

    def _retire(self, environments: list[ExecutionEnvironment]) -> None:
        if not environments:
            return
        for environment in environments:
            environment.kill()
        for name in {env.function.name for env in environments}:
            in_use = [env.function.code_dir for env in self.environments(name)]
            self._prune_code(name, in_use)

    def _reap_idle(self) -> None:
        interval = min(10.0, max(0.5, self._idle_timeout / 4))
        while not self._closing.wait(interval):
            cutoff = time.monotonic() - self._idle_timeout
            with self._lock:
                expired = [env for envs in self._idle.values() for env in envs if env.last_used < cutoff]
                for name, envs in self._idle.items():
                    self._idle[name] = [env for env in envs if env not in expired]
            if expired:
                logger.info("reclaiming %d idle environment(s)", len(expired))
                self._retire(expired)
