"""Execution environments: one real awslambdaric process each, supervised as Lambda does.

The process is an isolated interpreter that sees only the function's code, the runtime directory
and the standard library (see `python_runtime`), so code that would not import on AWS does not
import here either.

The supervisor runs in the caller's thread while the invocation is in flight: it wakes at once
when the runtime answers, and otherwise every ~50 ms to check the deadline (a hard SIGKILL of the
whole process group when it passes, whatever the handler does), the memory of the process tree
against MemorySize, and whether the process died. Any of those ends the environment; the pool
then starts a new one for the next invocation, as Lambda replaces a sandbox.

The runtime's stdout and stderr (one pipe) become the invocation's log. awslambdaric flushes every
write before it posts the result, so draining the pipe once the result is in captures all of it.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping

from local_stack.lambda_service.errors import ServiceError
from local_stack.lambda_service.functions import LATEST, Function
from local_stack.lambda_service.invocation import Execution, Invocation, Outcome, platform_error
from local_stack.lambda_service.logs import timestamped
from local_stack.lambda_service.memory import TreeMemory, peak_rss_bytes
from local_stack.lambda_service.python_runtime import PythonRuntime
from local_stack.lambda_service.runtime_api import RuntimeApiServer

__all__ = ["INIT_TIMEOUT_SECONDS", "ExecutionEnvironment", "runtime_environment"]

logger = logging.getLogger(__name__)

#: Lambda gives the init phase 10 s, then retries the init inside the invocation's own timeout.
INIT_TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 0.05
#: Output kept per invocation; the rest is counted and dropped so a chatty handler cannot exhaust memory.
MAX_OUTPUT_BYTES = 8 << 20
_MB = 1 << 20

#: Variables of the service handed to every runtime, so code inside talks to the same (local) AWS.
_INHERITED = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PATH")


def runtime_environment(
    function: Function, environ: Mapping[str, str], runtime_api: str, log_stream: str, runtime: PythonRuntime
) -> dict[str, str]:
    """The environment of a runtime process: Lambda's own variables, then the function's (which win).

    `PYTHONPATH` is kept for what the function itself starts; the isolated runtime ignores it and
    gets its path from `LAMBDA_TASK_ROOT` and `LAMBDA_RUNTIME_DIR`.
    """
    env = {key: environ[key] for key in _INHERITED if key in environ}
    env.update({key: value for key, value in environ.items() if key.startswith("AWS_ENDPOINT_URL")})
    region = function.region
    env.update(
        {
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONPATH": function.code_dir,
            "LAMBDA_TASK_ROOT": function.code_dir,
            "LAMBDA_RUNTIME_DIR": str(runtime.directory),
            "_HANDLER": function.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": LATEST,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": function.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
        }
    )
    if function.log_format == "JSON":
        env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
    if function.application_log_level:
        env["AWS_LAMBDA_LOG_LEVEL"] = function.application_log_level
    env.update(function.variables)
    return env


class ExecutionEnvironment:
    """A sandbox for one function revision: a runtime process, its Runtime API and its log pipe."""

    def __init__(self, function: Function, environ: Mapping[str, str], runtime: PythonRuntime):
        self.function = function
        self._runtime = runtime
        self.log_stream = f"{datetime.datetime.now(datetime.UTC):%Y/%m/%d}/[{LATEST}]{uuid.uuid4().hex}"
        self.invocations = 0
        self.last_used = time.monotonic()
        self._environ = environ
        self._cond = threading.Condition()
        self._pending: Invocation | None = None
        self._current: Invocation | None = None
        self._closed = False
        self._lost = False
        self._started_at = 0.0
        self._ready_at: float | None = None
        self._dispatched_once = False
        self._output = bytearray()
        self._dropped = 0
        self._output_lock = threading.Lock()
        self._output_fd = -1
        self._output_eof = False
        self._server = RuntimeApiServer(self)
        self._process: subprocess.Popen[bytes] | None = None
        self._memory: TreeMemory | None = None

    @property
    def reusable(self) -> bool:
        return not self._lost and not self._closed and self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        """Start the Runtime API and the runtime process (unless the environment was closed meanwhile)."""
        with self._cond:
            if self._closed:
                raise ServiceError("The execution environment was retired before it started.")
        self._server.start()
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        self._output_fd = read_fd
        env = runtime_environment(self.function, self._environ, self._server.address, self.log_stream, self._runtime)
        self._started_at = time.monotonic()
        try:
            self._process = subprocess.Popen(
                self._runtime.command(self.function.handler),
                cwd=self.function.code_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                start_new_session=True,
            )
        except OSError:
            os.close(read_fd)
            self._server.close()
            raise
        finally:
            os.close(write_fd)
        self._memory = TreeMemory(self._process.pid)
        threading.Thread(target=self._pump_output, name=f"lambda-output-{self.pid}", daemon=True).start()
        with self._cond:
            closed = self._closed
        if closed:  # retired (service stopping, function deleted) while the process was being spawned
            self._kill_process_tree()
            self.wait_closed(timeout=10)
        logger.debug("started environment pid %s for %s", self.pid, self.function.name)

    def invoke(self, invocation: Invocation) -> Execution:
        """Run one invocation to its end, whatever it takes: result, error, deadline, memory or crash."""
        cold = self.invocations == 0
        self.invocations += 1
        limit_bytes = self.function.memory_size * _MB
        started = time.monotonic()
        fallback_deadline = started + invocation.timeout_seconds + (INIT_TIMEOUT_SECONDS if cold else 0)
        with self._cond:
            self._pending = invocation
            self._cond.notify_all()
        assert self._process is not None and self._memory is not None
        while not invocation.done.is_set():
            deadline = invocation.deadline if invocation.dispatched_at is not None else fallback_deadline
            if invocation.done.wait(max(0.0, min(POLL_SECONDS, deadline - time.monotonic()))):
                break
            if time.monotonic() >= deadline:
                self._end(invocation, self._timed_out(invocation))
            elif self._process.poll() is not None:
                self._end(invocation, self._exited(invocation, self._process.returncode))
            elif self._memory.sample() > limit_bytes:
                self._end(invocation, self._out_of_memory(invocation))
        outcome = invocation.outcome
        assert outcome is not None
        if outcome.environment_lost:
            self._lost = True
            self.kill()
        ended = time.monotonic()
        self.last_used = ended
        began = invocation.dispatched_at or ended
        duration = invocation.timeout_seconds * 1000.0 if outcome.status == "timeout" else (ended - began) * 1000
        init_ms = ((self._ready_at or ended) - self._started_at) * 1000 if cold else None
        peak = self._memory.peak if outcome.error_type == "Runtime.OutOfMemory" else self._peak_memory()
        preamble, output = self._split_output(invocation)
        return Execution(
            request_id=invocation.request_id,
            outcome=outcome,
            output=output,
            preamble=preamble,
            duration_ms=duration,
            init_duration_ms=init_ms,
            max_memory_mb=min(self.function.memory_size, max(1, round(peak / _MB))),
            log_stream=self.log_stream,
        )

    # Runtime API callbacks -------------------------------------------------------------------

    def next_invocation(self) -> Invocation | None:
        """Block until an invocation is handed over (None once the environment closes), then dispatch it."""
        with self._cond:
            if self._ready_at is None:
                self._ready_at = time.monotonic()
            while self._pending is None and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            invocation, self._pending = self._pending, None
            assert invocation is not None
            deadline = time.monotonic() + invocation.timeout_seconds
            if not self._dispatched_once:
                # A slow init eats into the invocation: Lambda re-runs it under the function's timeout.
                self._dispatched_once = True
                deadline = min(deadline, self._started_at + INIT_TIMEOUT_SECONDS + invocation.timeout_seconds)
            invocation.preamble = self._take_output()
            invocation.dispatch(deadline)
            self._current = invocation
            return invocation

    def invocation_succeeded(self, request_id: str, body: bytes | None) -> bool:
        invocation = self._finish_current(request_id)
        if invocation is None:
            return False
        if body is None:
            message = "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
            invocation.complete(
                Outcome(
                    platform_error("Function.ResponseSizeTooLarge", message),
                    function_error="Unhandled",
                    error_type="Function.ResponseSizeTooLarge",
                    status="error",
                )
            )
        else:
            invocation.complete(Outcome(body))
        return True

    def invocation_failed(self, request_id: str, body: bytes, error_type: str | None) -> bool:
        invocation = self._finish_current(request_id)
        if invocation is None:
            return False
        invocation.complete(Outcome(body, function_error="Unhandled", error_type=error_type))
        return True

    def init_failed(self, body: bytes, error_type: str | None) -> None:
        """The handler could not be loaded: the invocation waiting for this environment fails with the init error."""
        with self._cond:
            invocation = self._pending or self._current
            self._lost = True
        if invocation is not None:
            invocation.complete(
                Outcome(body, function_error="Unhandled", error_type=error_type, status="error", environment_lost=True)
            )

    # Ending --------------------------------------------------------------------------------------

    def kill(self) -> None:
        """SIGKILL the runtime's whole process tree now; reaping and closing happen in the background, once."""
        with self._cond:
            first = not self._closed
            self._closed = True
            self._cond.notify_all()
        self._kill_process_tree()
        if first:
            threading.Thread(target=self._cleanup, name="lambda-env-cleanup", daemon=True).start()

    def _kill_process_tree(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        strays = self._memory.descendants() if self._memory else []
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        for pid in strays:  # children that left the process group
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _cleanup(self) -> None:
        if self._process is not None:
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                logger.warning("runtime pid %s did not exit after SIGKILL", self._process.pid)
        self._server.close()

    def wait_closed(self, timeout: float) -> None:
        if self._process is not None:
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                logger.warning("runtime pid %s still running at shutdown", self._process.pid)

    # Internals -------------------------------------------------------------------------------

    def _finish_current(self, request_id: str) -> Invocation | None:
        with self._cond:
            invocation = self._current
            if invocation is None or invocation.request_id != request_id:
                return None
            self._current = None
            return invocation

    def _end(self, invocation: Invocation, outcome: Outcome) -> None:
        invocation.complete(outcome)
        with self._cond:
            if self._current is invocation:
                self._current = None
            if self._pending is invocation:
                self._pending = None

    def _timed_out(self, invocation: Invocation) -> Outcome:
        seconds = f"{invocation.timeout_seconds:.2f}"
        return Outcome(
            platform_error(
                "Sandbox.Timedout", f"RequestId: {invocation.request_id} Error: Task timed out after {seconds} seconds"
            ),
            function_error="Unhandled",
            error_type="Sandbox.Timedout",
            status="timeout",
            platform_log=timestamped(invocation.request_id, f"Task timed out after {seconds} seconds"),
            environment_lost=True,
        )

    def _out_of_memory(self, invocation: Invocation) -> Outcome:
        return self._runtime_died(invocation, "Runtime.OutOfMemory", "signal: killed")

    def _exited(self, invocation: Invocation, returncode: int) -> Outcome:
        if returncode < 0:
            how = f"signal: {signal.Signals(-returncode).name.removeprefix('SIG').lower()}"
        else:
            how = f"exit status {returncode}"
        return self._runtime_died(invocation, "Runtime.ExitError", how)

    @staticmethod
    def _runtime_died(invocation: Invocation, error_type: str, how: str) -> Outcome:
        """The runtime process is gone mid-invocation: AWS's payload, and the environment is replaced."""
        message = f"RequestId: {invocation.request_id} Error: Runtime exited with error: {how}"
        return Outcome(
            platform_error(error_type, message),
            function_error="Unhandled",
            error_type=error_type,
            status="error",
            platform_log=f"{message}\n{error_type}\n".encode(),
            environment_lost=True,
        )

    def _peak_memory(self) -> int:
        assert self._process is not None and self._memory is not None
        return max(self._memory.peak, peak_rss_bytes(self._process.pid))

    def _split_output(self, invocation: Invocation) -> tuple[bytes, bytes]:
        preamble, output = invocation.preamble, self._take_output()
        if invocation.dispatched_at is None:  # never reached the handler: everything is init output
            return preamble + output, b""
        return preamble, output

    def _take_output(self) -> bytes:
        with self._output_lock:
            self._drain_locked()
            taken = bytes(self._output)
            self._output.clear()
            if self._dropped:
                taken += f"[local lambda service: {self._dropped} bytes of output dropped]\n".encode()
                self._dropped = 0
            return taken

    def _drain_locked(self) -> bool:
        """Read whatever the pipe holds; True at end of file (the runtime and its children are gone)."""
        while not self._output_eof:
            try:
                chunk = os.read(self._output_fd, 1 << 16)
            except BlockingIOError:
                return False
            if not chunk:
                self._output_eof = True
                break
            room = MAX_OUTPUT_BYTES - len(self._output)
            self._output += chunk[:room]
            self._dropped += max(0, len(chunk) - room)
        return True

    def _pump_output(self) -> None:
        """Keep the pipe drained between takes; the only closer of the descriptor, so it is never reused under us."""
        poller = select.poll()
        poller.register(self._output_fd, select.POLLIN | select.POLLHUP)
        while True:
            poller.poll()
            with self._output_lock:
                if self._drain_locked():
                    os.close(self._output_fd)
                    return
