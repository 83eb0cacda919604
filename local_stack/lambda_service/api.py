"""The Lambda control and invoke API over AWS's REST wire format, plus three local extensions.

URIs, status codes and shapes follow botocore's service model for lambda (2015-03-31), so boto3
talks to this service unchanged through `endpoint_url` / `AWS_ENDPOINT_URL_LAMBDA`. Requests are
not authenticated. Local extensions, outside the AWS API:
`GET /health`, `GET /local/logs/<request id>` (an invocation's full log, text) and
`GET /local/code/<function name>` (the deployment package, where GetFunction's Code.Location points).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, unquote

from local_stack.lambda_service.async_queue import AsyncQueue, QueuedEvent
from local_stack.lambda_service.errors import (
    InvalidParameterValue,
    InvalidRequestContent,
    LambdaApiError,
    RecursiveInvocation,
    RequestEntityTooLarge,
    ResourceNotFound,
    ServiceError,
    TooManyRequests,
    UnknownOperation,
)
from local_stack.lambda_service.functions import (
    LATEST,
    MAX_RESERVED_CONCURRENCY,
    EventInvokeConfig,
    Function,
    FunctionRegistry,
    parse_function_name,
)
from local_stack.lambda_service.invoker import Invoker
from local_stack.lambda_service.logs import LogStore, tail_base64
from local_stack.lambda_service.tracing import next_hop
from local_stack.lambda_service.wire import FastHandler, FastServer

__all__ = ["ApiServer", "LambdaApi", "Request", "Response"]

logger = logging.getLogger(__name__)

MAX_SYNC_PAYLOAD = 6_291_456
MAX_ASYNC_PAYLOAD = 1_048_576
#: The largest request Lambda reads at all (CreateFunction with a 50 MB zip, base64 in JSON).
MAX_REQUEST_BYTES = 70_167_211
MAX_CLIENT_CONTEXT = 3583
_JSON = "application/json"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    host: str

    def json(self) -> dict[str, Any]:
        if not self.body:
            return {}
        try:
            document = json.loads(self.body)
        except ValueError as exc:
            raise InvalidRequestContent(f"Could not parse request body into json: {exc}") from exc
        if not isinstance(document, dict):
            raise InvalidRequestContent("Could not parse request body into json: expected an object")
        return document


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, document: Any, status: int = 200) -> Response:
        return cls(status, json.dumps(document).encode(), [("Content-Type", _JSON)])


_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(pattern), operation)
    for method, pattern, operation in (
        ("GET", r"^/health$", "health"),
        ("GET", r"^/local/logs/(?P<arg>[^/]+)$", "local_log"),
        ("GET", r"^/local/code/(?P<arg>[^/]+)$", "local_code"),
        ("POST", r"^/2015-03-31/functions/?$", "create_function"),
        ("GET", r"^/2015-03-31/functions/?$", "list_functions"),
        ("GET", r"^/2015-03-31/functions/(?P<arg>[^/]+)/?$", "get_function"),
        ("DELETE", r"^/2015-03-31/functions/(?P<arg>[^/]+)/?$", "delete_function"),
        ("GET", r"^/2015-03-31/functions/(?P<arg>[^/]+)/configuration/?$", "get_function_configuration"),
        ("PUT", r"^/2015-03-31/functions/(?P<arg>[^/]+)/configuration/?$", "update_function_configuration"),
        ("PUT", r"^/2015-03-31/functions/(?P<arg>[^/]+)/code/?$", "update_function_code"),
        ("POST", r"^/2015-03-31/functions/(?P<arg>[^/]+)/invocations/?$", "invoke"),
        ("PUT", r"^/2019-09-25/functions/(?P<arg>[^/]+)/event-invoke-config/?$", "put_event_invoke_config"),
        ("POST", r"^/2019-09-25/functions/(?P<arg>[^/]+)/event-invoke-config/?$", "update_event_invoke_config"),
        ("GET", r"^/2019-09-25/functions/(?P<arg>[^/]+)/event-invoke-config/?$", "get_event_invoke_config"),
        ("DELETE", r"^/2019-09-25/functions/(?P<arg>[^/]+)/event-invoke-config/?$", "delete_event_invoke_config"),
        ("PUT", r"^/2017-10-31/functions/(?P<arg>[^/]+)/concurrency/?$", "put_function_concurrency"),
        ("DELETE", r"^/2017-10-31/functions/(?P<arg>[^/]+)/concurrency/?$", "delete_function_concurrency"),
        ("GET", r"^/2019-09-30/functions/(?P<arg>[^/]+)/concurrency/?$", "get_function_concurrency"),
        ("PUT", r"^/2024-08-31/functions/(?P<arg>[^/]+)/recursion-config/?$", "put_recursion_config"),
        ("GET", r"^/2024-08-31/functions/(?P<arg>[^/]+)/recursion-config/?$", "get_recursion_config"),
    )
]


class LambdaApi:
    """The operations; each takes the parsed request and the function name (or other path argument)."""

    def __init__(self, registry: FunctionRegistry, invoker: Invoker, async_queue: AsyncQueue, log_store: LogStore):
        self._registry = registry
        self._invoker = invoker
        self._async_queue = async_queue
        self._log_store = log_store

    def handle(self, request: Request) -> Response:
        for method, pattern, operation in _ROUTES:
            if method == request.method and (match := pattern.match(request.path)):
                try:
                    return getattr(self, operation)(request, unquote(match.groupdict().get("arg") or ""))
                except LambdaApiError as exc:
                    return Response(exc.status, exc.body(), exc.headers())
                except Exception:
                    logger.exception("%s %s failed", request.method, request.path)
                    error = ServiceError("An internal error occurred in the local Lambda service; see its log.")
                    return Response(error.status, error.body(), error.headers())
        error = UnknownOperation(f"No operation for {request.method} {request.path}")
        return Response(error.status, error.body(), error.headers())

    def _function(self, request: Request, name: str) -> Function:
        return self._registry.get(parse_function_name(name, request.query.get("Qualifier"), self._registry.region))

    # Local extensions --------------------------------------------------------------------------

    def health(self, request: Request, _: str) -> Response:
        return Response.json({"status": "ok"})

    def local_log(self, request: Request, request_id: str) -> Response:
        log = self._log_store.read(request_id)
        if log is None:
            raise ResourceNotFound(f"No log for request id {request_id}")
        return Response(200, log, [("Content-Type", "text/plain; charset=utf-8")])

    def local_code(self, request: Request, name: str) -> Response:
        package = self._registry.code_zip(self._function(request, name).name).read_bytes()
        return Response(200, package, [("Content-Type", "application/zip")])

    # Functions -----------------------------------------------------------------------------------

    def create_function(self, request: Request, _: str) -> Response:
        return Response.json(self._registry.create(request.json()).configuration(), status=201)

    def list_functions(self, request: Request, _: str) -> Response:
        functions = self._registry.all()
        marker = request.query.get("Marker")
        start = int(marker) if marker and marker.isdigit() else 0
        size = int(request.query.get("MaxItems") or 50)
        if not 1 <= size <= 10000:
            raise InvalidParameterValue("MaxItems must be between 1 and 10000.")
        page = functions[start : start + size]
        document: dict[str, Any] = {"Functions": [function.configuration() for function in page]}
        if start + size < len(functions):
            document["NextMarker"] = str(start + size)
        return Response.json(document)

    def get_function(self, request: Request, name: str) -> Response:
        function = self._function(request, name)
        document: dict[str, Any] = {
            "Configuration": function.configuration(),
            "Code": {"RepositoryType": "S3", "Location": f"http://{request.host}/local/code/{function.name}"},
        }
        if function.tags:
            document["Tags"] = dict(function.tags)
        if function.reserved_concurrency is not None:
            document["Concurrency"] = {"ReservedConcurrentExecutions": function.reserved_concurrency}
        return Response.json(document)

    def get_function_configuration(self, request: Request, name: str) -> Response:
        return Response.json(self._function(request, name).configuration())

    def update_function_configuration(self, request: Request, name: str) -> Response:
        function = self._function(request, name)
        return Response.json(self._registry.update_configuration(function.name, request.json()).configuration())

    def update_function_code(self, request: Request, name: str) -> Response:
        function = self._function(request, name)
        return Response.json(self._registry.update_code(function.name, request.json()).configuration())

    def delete_function(self, request: Request, name: str) -> Response:
        self._registry.delete(self._function(request, name).name)
        return Response(204)

    # Invoke --------------------------------------------------------------------------------------

    def invoke(self, request: Request, name: str) -> Response:
        function = self._function(request, name)
        invocation_type = request.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            raise InvalidParameterValue(f"Unsupported InvocationType: {invocation_type}")
        if invocation_type == "DryRun":
            return Response(204, headers=[("x-amzn-RequestId", str(uuid.uuid4()))])
        asynchronous = invocation_type == "Event"
        limit = MAX_ASYNC_PAYLOAD if asynchronous else MAX_SYNC_PAYLOAD
        if len(request.body) > limit:
            operation = "InvokeAsync" if asynchronous else "InvokeFunction"
            raise RequestEntityTooLarge(f"Request must be smaller than {limit} bytes for the {operation} operation")
        payload = request.body or b"{}"
        try:
            json.loads(payload)
        except ValueError as exc:
            raise InvalidRequestContent(
                f"Could not parse request body into json: Could not parse payload into json: {exc}"
            ) from exc
        client_context = _client_context(request.headers.get("X-Amz-Client-Context"))
        trace = next_hop(request.headers.get("X-Amzn-Trace-Id"), function.arn)
        request_id = str(uuid.uuid4())
        if asynchronous:
            self._async_queue.submit(QueuedEvent(request_id, function.name, payload, trace, time.monotonic()))
            return Response(202, headers=[("x-amzn-RequestId", request_id)])
        if trace.loop_detected and function.recursive_loop == "Terminate":
            logger.warning("stopped a recursive loop: %s was invoked more than 16 times in one chain", function.name)
            raise RecursiveInvocation(
                f"Lambda detected that function {function.arn} is being invoked in a recursive loop "
                "and stopped the invocation. To allow it, set its recursion config to Allow."
            )
        if not self._invoker.gate.try_acquire(function):
            raise TooManyRequests("Rate Exceeded.", Reason="ReservedFunctionConcurrentInvocationLimitExceeded")
        try:
            result = self._invoker.run(function, request_id, payload, trace, client_context)
        finally:
            self._invoker.gate.release(function.name)
        headers = [
            ("Content-Type", _JSON),
            ("x-amzn-RequestId", request_id),
            ("X-Amz-Executed-Version", LATEST),
            ("X-Amzn-Trace-Id", trace.header),
        ]
        if result.function_error:
            headers.append(("X-Amz-Function-Error", result.function_error))
        if request.headers.get("X-Amz-Log-Type") == "Tail":
            headers.append(("X-Amz-Log-Result", tail_base64(result.log)))
        return Response(200, result.payload, headers)

    # Asynchronous invocation settings -------------------------------------------------------------

    def put_event_invoke_config(self, request: Request, name: str) -> Response:
        function = self._function(request, name)
        config = _event_invoke_config(request.json(), EventInvokeConfig())
        updated = self._registry.update_settings(function.name, event_invoke_config=config)
        return Response.json(updated.event_invoke_config_shape())

    def update_event_invoke_config(self, request: Request, name: str) -> Response:
        function = self._function(request, name)
        config = _event_invoke_config(request.json(), function.async_config)
        updated = self._registry.update_settings(function.name, event_invoke_config=config)
        return Response.json(updated.event_invoke_config_shape())

    def get_event_invoke_config(self, request: Request, name: str) -> Response:
        function = self._function(request, name)
        if function.event_invoke_config is None:
            raise ResourceNotFound(f"The function {function.arn} doesn't have an EventInvokeConfig")
        return Response.json(function.event_invoke_config_shape())

    def delete_event_invoke_config(self, request: Request, name: str) -> Response:
        function = self._function(request, name)
        if function.event_invoke_config is None:
            raise ResourceNotFound(f"The function {function.arn} doesn't have an EventInvokeConfig")
        self._registry.update_settings(function.name, event_invoke_config=None)
        return Response(204)

    # Concurrency and recursion -----------------------------------------------------------------

    def put_function_concurrency(self, request: Request, name: str) -> Response:
        function = self._function(request, name)
        reserved = request.json().get("ReservedConcurrentExecutions")
        if not isinstance(reserved, int) or reserved < 0:
            raise InvalidParameterValue("ReservedConcurrentExecutions must be a non-negative integer.")
        if reserved + self._registry.total_reserved_concurrency(excluding=function.name) > MAX_RESERVED_CONCURRENCY:
            raise InvalidParameterValue(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                "UnreservedConcurrentExecution below its minimum value of [100]."
            )
        self._registry.update_settings(function.name, reserved_concurrency=reserved)
        return Response.json({"ReservedConcurrentExecutions": reserved})

    def delete_function_concurrency(self, request: Request, name: str) -> Response:
        self._registry.update_settings(self._function(request, name).name, reserved_concurrency=None)
        return Response(204)

    def get_function_concurrency(self, request: Request, name: str) -> Response:
        function = self._function(request, name)
        if function.reserved_concurrency is None:
            return Response.json({})
        return Response.json({"ReservedConcurrentExecutions": function.reserved_concurrency})

    def put_recursion_config(self, request: Request, name: str) -> Response:
        function = self._function(request, name)
        value = request.json().get("RecursiveLoop")
        if value not in ("Allow", "Terminate"):
            raise InvalidParameterValue("RecursiveLoop must be Allow or Terminate.")
        self._registry.update_settings(function.name, recursive_loop=value)
        return Response.json({"RecursiveLoop": value})

    def get_recursion_config(self, request: Request, name: str) -> Response:
        return Response.json({"RecursiveLoop": self._function(request, name).recursive_loop})


def _client_context(header: str | None) -> str | None:
    if not header:
        return None
    try:
        decoded = base64.b64decode(header, validate=True).decode()
        json.loads(decoded)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequestContent("Client context must be a valid Base64-encoded JSON object.") from exc
    if len(decoded) > MAX_CLIENT_CONTEXT:
        raise InvalidRequestContent(f"Client context must be smaller than {MAX_CLIENT_CONTEXT} bytes.")
    return decoded


def _event_invoke_config(document: Mapping[str, Any], base: EventInvokeConfig) -> EventInvokeConfig:
    changes: dict[str, Any] = {"last_modified": time.time()}
    if "MaximumRetryAttempts" in document:
        attempts = document["MaximumRetryAttempts"]
        if not isinstance(attempts, int) or not 0 <= attempts <= 2:
            raise InvalidParameterValue("MaximumRetryAttempts must be between 0 and 2.")
        changes["maximum_retry_attempts"] = attempts
    if "MaximumEventAgeInSeconds" in document:
        age = document["MaximumEventAgeInSeconds"]
        if not isinstance(age, int) or not 60 <= age <= 21600:
            raise InvalidParameterValue("MaximumEventAgeInSeconds must be between 60 and 21600.")
        changes["maximum_event_age_seconds"] = age
    if "DestinationConfig" in document:
        destinations = document["DestinationConfig"] or {}
        for key, attribute in (("OnSuccess", "on_success"), ("OnFailure", "on_failure")):
            if key in destinations:
                arn = (destinations[key] or {}).get("Destination") or None
                if arn is not None and not arn.startswith("arn:"):
                    raise InvalidParameterValue(f"The destination ARN {arn} is invalid.")
                changes[attribute] = arn
    return replace(base, **changes)


class ApiServer(FastServer):
    """The public HTTP listener; the routing and the operations live in `LambdaApi`."""

    def __init__(self, address: tuple[str, int], api: LambdaApi):
        super().__init__(address, _ApiHandler)
        self.api = api


class _ApiHandler(FastHandler):
    def _serve(self) -> None:
        body = self.read_body(limit=MAX_REQUEST_BYTES)
        if body is None:
            error = RequestEntityTooLarge(f"Request must be smaller than {MAX_REQUEST_BYTES} bytes")
            self.reply(error.status, error.body(), error.headers())
            return
        path, _, query = self.path.partition("?")
        request = Request(
            method=self.command,
            path=path,
            query={key: values[-1] for key, values in parse_qs(query).items()},
            headers=self.headers,  # type: ignore[arg-type]
            body=body,
            host=self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2]),
        )
        api: LambdaApi = self.server.api  # type: ignore[attr-defined]
        response = api.handle(request)
        self.reply(response.status, response.body, response.headers)

    do_GET = do_POST = do_PUT = do_DELETE = _serve
