"""The one error envelope every API error uses."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status = 400
    code = "BAD_REQUEST"

    def __init__(
        self, message: str, details: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        # Response headers that belong to this error (Retry-After, WWW-Authenticate).
        self.headers = headers or {}

    def body(self, request_id: str) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "details": self.details,
                "request_id": request_id,
            }
        }


class BadRequest(ApiError):
    status, code = 400, "BAD_REQUEST"


class ValidationFailed(ApiError):
    status, code = 422, "VALIDATION_ERROR"


class NotFound(ApiError):
    status, code = 404, "NOT_FOUND"


class Conflict(ApiError):
    status, code = 409, "CONFLICT"


class PayloadTooLarge(ApiError):
    status, code = 413, "PAYLOAD_TOO_LARGE"


class Unauthenticated(ApiError):
    status, code = 401, "UNAUTHENTICATED"

    def __init__(self, message: str, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(message, details, {"WWW-Authenticate": 'Bearer realm="haul"'})


class Forbidden(ApiError):
    status, code = 403, "FORBIDDEN"


class SetupDone(ApiError):
    status, code = 409, "SETUP_ALREADY_DONE"


class TooManyRequests(ApiError):
    status, code = 429, "RATE_LIMITED"

    def __init__(self, message: str, retry_after: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(message, None, {**(headers or {}), "Retry-After": str(max(1, retry_after))})
        self.retry_after = max(1, retry_after)


class Unavailable(ApiError):
    """A backing service failed and nothing was changed: sending the request again is safe."""

    status, code = 503, "UNAVAILABLE"


class Internal(ApiError):
    status, code = 500, "INTERNAL_ERROR"


def field_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", [{"field": field, "message": message}])
