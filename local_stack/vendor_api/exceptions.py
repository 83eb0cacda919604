"""The named errors of the vendor API; each maps to one HTTP status and a JSON `{"error": ...}` body."""

from __future__ import annotations

__all__ = ["ApiError", "BadRequest", "ConfigError", "Conflict", "NotFound", "UpstreamError"]


class ApiError(Exception):
    """An error answered to the client; `status` is the HTTP status code."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ApiError):
    """A parameter is missing, malformed or out of range; the message names it."""

    status = 400


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    """The resource exists but is not in a state that allows the request (a job's result before it ends)."""

    status = 409


class UpstreamError(ApiError):
    """A service the vendor API depends on (S3 for feed drops) failed."""

    status = 502


class ConfigError(ValueError):
    """A configuration value is invalid; raised at start-up and by the admin config endpoint."""
