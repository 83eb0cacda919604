"""Lambda's API errors, in the wire shape botocore turns into the same exceptions as against AWS.

botocore's rest-json parser takes the error code from the `x-amzn-ErrorType` header and the
message from the body's `message` (or `Message`) field; each error keeps the member casing of
the Lambda service model so the parsed response matches what AWS sends.
"""

from __future__ import annotations

import json
import uuid

__all__ = [
    "InvalidParameterValue",
    "InvalidRequestContent",
    "LambdaApiError",
    "PreconditionFailed",
    "RecursiveInvocation",
    "RequestEntityTooLarge",
    "ResourceConflict",
    "ResourceNotFound",
    "ServiceError",
    "TooManyRequests",
    "UnknownOperation",
    "ValidationError",
]


class LambdaApiError(Exception):
    """An error answered to the API caller; subclasses fix the code, the status and the body casing."""

    code = "ServiceException"
    status = 500
    message_key = "Message"
    error_kind = "Service"

    def __init__(self, message: str, **extra: str) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def body(self) -> bytes:
        fields: dict[str, str] = {"Type": self.error_kind, self.message_key: self.message, **self.extra}
        return json.dumps(fields).encode()

    def headers(self) -> list[tuple[str, str]]:
        return [
            ("x-amzn-ErrorType", self.code),
            ("x-amzn-RequestId", str(uuid.uuid4())),
            ("Content-Type", "application/json"),
        ]


class _CallerError(LambdaApiError):
    """The caller's mistake: Lambda marks it `User` and most such errors spell their field `message`."""

    message_key = "message"
    error_kind = "User"


class ResourceNotFound(_CallerError):
    code = "ResourceNotFoundException"
    status = 404
    message_key = "Message"


class ResourceConflict(_CallerError):
    code = "ResourceConflictException"
    status = 409


class InvalidParameterValue(_CallerError):
    code = "InvalidParameterValueException"
    status = 400


class ValidationError(_CallerError):
    code = "ValidationException"
    status = 400


class InvalidRequestContent(_CallerError):
    code = "InvalidRequestContentException"
    status = 400


class RequestEntityTooLarge(_CallerError):
    code = "RequestEntityTooLargeException"
    status = 413


class TooManyRequests(_CallerError):
    code = "TooManyRequestsException"
    status = 429


class RecursiveInvocation(_CallerError):
    code = "RecursiveInvocationException"
    status = 400
    message_key = "Message"


class PreconditionFailed(_CallerError):
    code = "PreconditionFailedException"
    status = 412


class UnknownOperation(_CallerError):
    code = "UnknownOperationException"
    status = 404


class ServiceError(LambdaApiError):
    """An unexpected failure inside this service: botocore raises ServiceException, as for AWS's own faults."""
