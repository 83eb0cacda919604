"""Function definitions: validation as Lambda does it, code storage, and persistence in the state dir.

A `Function` is immutable; every change replaces it in the registry. Anything that runs an
invocation takes one snapshot and keeps it, so an update in the middle of an invocation cannot
tear it, and `revision_id` (new on every code or configuration change) tells environments built
from an older definition apart: they are retired, as Lambda retires them after an update.

Layout under the state dir: `functions/<name>/function.json` (the definition and its settings)
and `functions/<name>/code/<sha256>/` (the unpacked package) next to `<sha256>.zip`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from local_stack.lambda_service.errors import (
    InvalidParameterValue,
    PreconditionFailed,
    ResourceConflict,
    ResourceNotFound,
)

__all__ = [
    "ACCOUNT_ID",
    "LATEST",
    "EventInvokeConfig",
    "Function",
    "FunctionRegistry",
    "parse_function_name",
]

logger = logging.getLogger(__name__)

#: moto's default account, so ARNs built here and queue ARNs from the local SQS agree.
ACCOUNT_ID = os.environ.get("MOTO_ACCOUNT_ID", "123456789012")
LATEST = "$LATEST"
MAX_TIMEOUT_SECONDS = 900
MIN_MEMORY_MB, MAX_MEMORY_MB = 128, 10240
MAX_UNZIPPED_BYTES = 262_144_000
MAX_ENVIRONMENT_BYTES = 4096
MAX_RESERVED_CONCURRENCY = 900  # an account's 1000, less the 100 Lambda keeps unreserved
DEFAULT_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE = 21600

#: Variables Lambda sets itself and refuses to let a function override.
RESERVED_VARIABLES = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_NAME_OR_ARN = re.compile(
    r"^(?:arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:|\d{12}:function:)?"
    r"(?P<name>[a-zA-Z0-9_.-]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?$"
)


@dataclass(frozen=True)
class EventInvokeConfig:
    """How asynchronous invocations of a function are retried, aged out and reported."""

    maximum_retry_attempts: int | None = None
    maximum_event_age_seconds: int | None = None
    on_success: str | None = None
    on_failure: str | None = None
    last_modified: float = 0.0

    @property
    def retry_attempts(self) -> int:
        return DEFAULT_RETRY_ATTEMPTS if self.maximum_retry_attempts is None else self.maximum_retry_attempts

    @property
    def max_event_age(self) -> int:
        return DEFAULT_MAX_EVENT_AGE if self.maximum_event_age_seconds is None else self.maximum_event_age_seconds


@dataclass(frozen=True)
class Function:
    """One function's definition ($LATEST only: this service publishes no versions or aliases)."""

    name: str
    region: str
    runtime: str
    role: str
    handler: str
    code_sha: str
    code_size: int
    code_dir: str
    revision_id: str
    last_modified: str
    description: str = ""
    timeout: int = 3
    memory_size: int = 128
    variables: dict[str, str] = field(default_factory=dict)
    dead_letter_target: str | None = None
    log_format: str = "Text"
    application_log_level: str | None = None
    system_log_level: str | None = None
    tracing_mode: str = "PassThrough"
    architectures: tuple[str, ...] = ("x86_64",)
    ephemeral_storage: int = 512
    tags: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    recursive_loop: str = "Terminate"
    event_invoke_config: EventInvokeConfig | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.name}"

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"

    @property
    def async_config(self) -> EventInvokeConfig:
        return self.event_invoke_config or EventInvokeConfig()

    def configuration(self) -> dict[str, Any]:
        """The FunctionConfiguration shape of the API."""
        config: dict[str, Any] = {
            "FunctionName": self.name,
            "FunctionArn": self.arn,
            "Runtime": self.runtime,
            "Role": self.role,
            "Handler": self.handler,
            "CodeSize": self.code_size,
            "Description": self.description,
            "Timeout": self.timeout,
            "MemorySize": self.memory_size,
            "LastModified": self.last_modified,
            "CodeSha256": base64.b64encode(bytes.fromhex(self.code_sha)).decode(),
            "Version": LATEST,
            "TracingConfig": {"Mode": self.tracing_mode},
            "RevisionId": self.revision_id,
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": list(self.architectures),
            "EphemeralStorage": {"Size": self.ephemeral_storage},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "LoggingConfig": self._logging_config(),
        }
        if self.variables:
            config["Environment"] = {"Variables": dict(self.variables)}
        if self.dead_letter_target:
            config["DeadLetterConfig"] = {"TargetArn": self.dead_letter_target}
        return config

    def _logging_config(self) -> dict[str, str]:
        logging_config = {"LogFormat": self.log_format, "LogGroup": self.log_group}
        if self.application_log_level:
            logging_config["ApplicationLogLevel"] = self.application_log_level
        if self.system_log_level:
            logging_config["SystemLogLevel"] = self.system_log_level
        return logging_config

    def event_invoke_config_shape(self) -> dict[str, Any]:
        config = self.async_config
        destinations: dict[str, Any] = {"OnSuccess": {}, "OnFailure": {}}
        if config.on_success:
            destinations["OnSuccess"] = {"Destination": config.on_success}
        if config.on_failure:
            destinations["OnFailure"] = {"Destination": config.on_failure}
        shape: dict[str, Any] = {
            "LastModified": config.last_modified,
            "FunctionArn": f"{self.arn}:{LATEST}",
            "DestinationConfig": destinations,
        }
        if config.maximum_retry_attempts is not None:
            shape["MaximumRetryAttempts"] = config.maximum_retry_attempts
        if config.maximum_event_age_seconds is not None:
            shape["MaximumEventAgeInSeconds"] = config.maximum_event_age_seconds
        return shape


def parse_function_name(value: str, qualifier: str | None, region: str) -> str:
    """The function name inside a name, partial ARN or ARN; only $LATEST exists here."""
    match = _NAME_OR_ARN.match(value)
    if match is None:
        raise ResourceNotFound(f"Function not found: arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{value}")
    name = match["name"]
    qualifier = qualifier or match["qualifier"]
    if qualifier not in (None, LATEST):
        raise ResourceNotFound(f"Function not found: arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}:{qualifier}")
    return name


def _timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}+0000"


def _validated_settings(request: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration fields of a Create/UpdateFunctionConfiguration request, checked as Lambda checks them."""
    settings: dict[str, Any] = {}
    if "Timeout" in request:
        timeout = request["Timeout"]
        if not isinstance(timeout, int) or not 1 <= timeout <= MAX_TIMEOUT_SECONDS:
            raise InvalidParameterValue(f"Timeout must be between 1 and {MAX_TIMEOUT_SECONDS} seconds, got {timeout}.")
        settings["timeout"] = timeout
    if "MemorySize" in request:
        memory = request["MemorySize"]
        if not isinstance(memory, int) or not MIN_MEMORY_MB <= memory <= MAX_MEMORY_MB:
            raise InvalidParameterValue(f"MemorySize must be between {MIN_MEMORY_MB} and {MAX_MEMORY_MB} MB.")
        settings["memory_size"] = memory
    if "Runtime" in request:
        runtime = request["Runtime"]
        if not str(runtime).startswith("python3"):
            raise InvalidParameterValue(
                f"The runtime parameter of {runtime} is not supported by the local Lambda service (Python only)."
            )
        settings["runtime"] = runtime
    if "Handler" in request:
        settings["handler"] = request["Handler"]
    for key, attribute in (("Role", "role"), ("Description", "description")):
        if key in request:
            settings[attribute] = request[key]
    if "Environment" in request:
        settings["variables"] = _validated_variables((request["Environment"] or {}).get("Variables") or {})
    if "DeadLetterConfig" in request:
        settings["dead_letter_target"] = (request["DeadLetterConfig"] or {}).get("TargetArn") or None
    if "TracingConfig" in request:
        settings["tracing_mode"] = (request["TracingConfig"] or {}).get("Mode", "PassThrough")
    if "LoggingConfig" in request:
        logging_config = request["LoggingConfig"] or {}
        settings["log_format"] = logging_config.get("LogFormat", "Text")
        settings["application_log_level"] = logging_config.get("ApplicationLogLevel")
        settings["system_log_level"] = logging_config.get("SystemLogLevel")
    if request.get("Layers"):
        raise InvalidParameterValue("Layers are not supported by the local Lambda service: vendor them into the zip.")
    if (request.get("EphemeralStorage") or {}).get("Size"):
        settings["ephemeral_storage"] = request["EphemeralStorage"]["Size"]
    return settings


def _validated_variables(variables: Mapping[str, str]) -> dict[str, str]:
    reserved = sorted(set(variables) & RESERVED_VARIABLES)
    if reserved:
        raise InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the environment variables you have "
            "provided contains reserved keys that are currently not supported for modification. "
            f"Reserved keys used in this request: {','.join(reserved)}"
        )
    measured = json.dumps(variables, separators=(",", ":"))
    if len(measured.encode()) > MAX_ENVIRONMENT_BYTES:
        raise InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the environment variables you have "
            f"provided exceeded the 4KB limit. String measured: {measured}"
        )
    return {str(key): str(value) for key, value in variables.items()}


class FunctionRegistry:
    """Every function the service knows, persisted so definitions survive a restart of the service."""

    def __init__(self, state_dir: Path, region: str, fetch_s3_object: Callable[[str, str, str | None], bytes]):
        self._root = state_dir / "functions"
        self._root.mkdir(parents=True, exist_ok=True)
        self._region = region
        self._fetch_s3_object = fetch_s3_object
        self._lock = threading.RLock()
        self._functions: dict[str, Function] = {}
        self._listeners: list[Callable[[str, Function | None], None]] = []
        self._load()

    @property
    def region(self) -> str:
        return self._region

    def subscribe(self, listener: Callable[[str, Function | None], None]) -> None:
        """Call `listener(name, function_or_None)` after every change of a function's definition."""
        self._listeners.append(listener)

    def get(self, name: str) -> Function:
        function = self._functions.get(name)
        if function is None:
            raise ResourceNotFound(f"Function not found: arn:aws:lambda:{self._region}:{ACCOUNT_ID}:function:{name}")
        return function

    def all(self) -> list[Function]:
        return sorted(self._functions.values(), key=lambda function: function.name)

    def code_zip(self, name: str) -> Path:
        function = self.get(name)
        return self._root / name / "code" / f"{function.code_sha}.zip"

    def create(self, request: Mapping[str, Any]) -> Function:
        name = request.get("FunctionName", "")
        if not _NAME.match(name):
            raise InvalidParameterValue(f"Function name {name!r} must match [a-zA-Z0-9-_]{{1,64}}.")
        if request.get("PackageType", "Zip") != "Zip":
            raise InvalidParameterValue("Only Zip packages are supported by the local Lambda service.")
        if not request.get("Runtime") or not request.get("Handler"):
            raise InvalidParameterValue(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages."
            )
        settings = _validated_settings(request)
        with self._lock:
            if name in self._functions:
                raise ResourceConflict(f"Function already exist: {name}")
            sha, size, code_dir = self._store_code(name, self._code_bytes(request.get("Code") or {}))
            function = Function(
                name=name,
                region=self._region,
                runtime=settings.pop("runtime"),
                role=settings.pop("role", request.get("Role", "")),
                handler=settings.pop("handler"),
                code_sha=sha,
                code_size=size,
                code_dir=str(code_dir),
                revision_id=str(uuid.uuid4()),
                last_modified=_timestamp(),
                tags=dict(request.get("Tags") or {}),
                **settings,
            )
            self._save(function)
        return function

    def update_code(self, name: str, request: Mapping[str, Any]) -> Function:
        with self._lock:
            function = self._checked_revision(name, request.get("RevisionId"))
            sha, size, code_dir = self._store_code(name, self._code_bytes(request))
            if request.get("DryRun"):
                return function
            updated = replace(
                function,
                code_sha=sha,
                code_size=size,
                code_dir=str(code_dir),
                revision_id=str(uuid.uuid4()),
                last_modified=_timestamp(),
            )
            self._save(updated)
        return updated

    def update_configuration(self, name: str, request: Mapping[str, Any]) -> Function:
        settings = _validated_settings(request)
        with self._lock:
            function = self._checked_revision(name, request.get("RevisionId"))
            updated = replace(function, **settings, revision_id=str(uuid.uuid4()), last_modified=_timestamp())
            self._save(updated)
        return updated

    def update_settings(self, name: str, **changes: Any) -> Function:
        """Change what does not touch the environments (concurrency, async and recursion settings)."""
        with self._lock:
            updated = replace(self.get(name), **changes)
            self._save(updated)
        return updated

    def total_reserved_concurrency(self, excluding: str) -> int:
        return sum(f.reserved_concurrency or 0 for f in self._functions.values() if f.name != excluding)

    def delete(self, name: str) -> Function:
        with self._lock:
            function = self.get(name)
            del self._functions[name]
            shutil.rmtree(self._root / name, ignore_errors=True)
        self._notify(name, None)
        return function

    def prune_code(self, name: str, in_use: Iterable[str]) -> None:
        """Delete the unpacked packages of `name` that neither the definition nor a live environment uses."""
        with self._lock:
            function = self._functions.get(name)
            keep = {Path(path).name for path in in_use}
            if function is not None:
                keep.add(function.code_sha)
            code_root = self._root / name / "code"
            if not code_root.is_dir():
                return
            for entry in code_root.iterdir():
                if entry.name.removesuffix(".zip") not in keep and not entry.name.startswith("."):
                    if entry.is_dir():
                        shutil.rmtree(entry, ignore_errors=True)
                    else:
                        entry.unlink(missing_ok=True)

    def _checked_revision(self, name: str, revision_id: str | None) -> Function:
        function = self.get(name)
        if revision_id and revision_id != function.revision_id:
            raise PreconditionFailed(
                "The Revision Id provided does not match the latest Revision Id. "
                "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
            )
        return function

    def _code_bytes(self, code: Mapping[str, Any]) -> bytes:
        if code.get("ZipFile"):
            return base64.b64decode(code["ZipFile"])
        if code.get("S3Bucket") and code.get("S3Key"):
            return self._fetch_s3_object(code["S3Bucket"], code["S3Key"], code.get("S3ObjectVersion"))
        raise InvalidParameterValue("Please provide a source for function code (ZipFile or S3Bucket and S3Key).")

    def _store_code(self, name: str, package: bytes) -> tuple[str, int, Path]:
        sha = hashlib.sha256(package).hexdigest()
        code_root = self._root / name / "code"
        code_dir = code_root / sha
        if code_dir.is_dir():
            return sha, len(package), code_dir
        try:
            archive = zipfile.ZipFile(io.BytesIO(package))
            unzipped = sum(info.file_size for info in archive.infolist())
        except zipfile.BadZipFile as exc:
            raise InvalidParameterValue(
                "Could not unzip uploaded file. Please check your file, then try to upload again."
            ) from exc
        if unzipped > MAX_UNZIPPED_BYTES:
            raise InvalidParameterValue(f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")
        code_root.mkdir(parents=True, exist_ok=True)
        staging = code_root / f".{sha}.{uuid.uuid4().hex}"
        archive.extractall(staging)
        staging.rename(code_dir)
        (code_root / f"{sha}.zip").write_bytes(package)
        return sha, len(package), code_dir

    def _save(self, function: Function) -> None:
        """Persist, publish and notify; the caller holds the lock."""
        folder = self._root / function.name
        folder.mkdir(parents=True, exist_ok=True)
        record = asdict(function)
        tmp = folder / "function.json.tmp"
        tmp.write_text(json.dumps(record, indent=1))
        tmp.replace(folder / "function.json")
        self._functions[function.name] = function
        self._notify(function.name, function)

    def _notify(self, name: str, function: Function | None) -> None:
        for listener in self._listeners:
            listener(name, function)

    def _load(self) -> None:
        for path in sorted(self._root.glob("*/function.json")):
            try:
                record = json.loads(path.read_text())
                config = record.pop("event_invoke_config")
                function = Function(
                    **{**record, "architectures": tuple(record["architectures"])},
                    event_invoke_config=EventInvokeConfig(**config) if config else None,
                )
            except (OSError, ValueError, TypeError, KeyError) as exc:
                logger.warning("skipping unreadable function definition %s: %s", path, exc)
                continue
            if not Path(function.code_dir).is_dir():
                zipped = path.parent / "code" / f"{function.code_sha}.zip"
                if not zipped.is_file():
                    logger.warning("skipping function %s: its code is missing from %s", function.name, zipped)
                    continue
                self._store_code(function.name, zipped.read_bytes())
            self._functions[function.name] = function
        if self._functions:
            logger.info("loaded %d function(s) from %s", len(self._functions), self._root)
