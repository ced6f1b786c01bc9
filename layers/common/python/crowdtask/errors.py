"""Domain errors: services raise these; http/errors.py turns each into one status and body."""

from __future__ import annotations

from typing import Any


class CrowdtaskError(Exception):
    """Base of every error the API answers on purpose."""

    status = 400
    code = 1000
    message = "bad request"

    def __init__(self, description: str, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(description)
        self.description = description
        self.headers = headers or {}
        self.extra = extra


class BadRequest(CrowdtaskError):
    status, code, message = 400, 1000, "bad request"


class InvalidCredentials(CrowdtaskError):
    status, code, message = 401, 1001, "invalid credentials"


class Unauthorized(CrowdtaskError):
    status, code, message = 401, 1002, "unauthorized"


class Forbidden(CrowdtaskError):
    status, code, message = 403, 1003, "forbidden"


class NotFound(CrowdtaskError):
    status, code, message = 404, 1004, "not found"

    @classmethod
    def of_field(cls, field: str, message: str) -> NotFound:
        """An id the request names (in a parameter or its body) that names nothing: 404 naming the field."""
        return cls(f"{field}: {message}", errors=[{"field": field, "message": message, "code": "NOT_FOUND"}])


class MethodNotAllowed(CrowdtaskError):
    status, code, message = 405, 1005, "method not allowed"


class Conflict(CrowdtaskError):
    status, code, message = 409, 1009, "conflict"


class PayloadTooLarge(CrowdtaskError):
    status, code, message = 413, 1013, "payload too large"


class UnsupportedMediaType(CrowdtaskError):
    status, code, message = 415, 1015, "unsupported media type"


class ValidationFailed(CrowdtaskError):
    """422 naming each offending field: `errors` is a list of {field, message, code}."""

    status, code, message = 422, 1022, "validation failed"

    def __init__(self, errors: list[dict[str, str]]):
        fields = ", ".join(e["field"] for e in errors) or "body"
        first = errors[0]["message"] if errors else "invalid input"
        super().__init__(f"Invalid value for {fields}: {first}", errors=errors)
        self.errors = errors

    @classmethod
    def one(cls, field: str, message: str, code: str = "INVALID_VALUE") -> ValidationFailed:
        return cls([{"field": field, "message": message, "code": code}])


class RefusedWithin(ValueError):
    """A model validator's refusal of a part of its field's value (`path`: `a.b[2]` within it), so
    that the 422 names the part, as it would name a field of a model."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path


class TooManyRequests(CrowdtaskError):
    status, code, message = 429, 1029, "too many requests"


class UnsupportedVersion(CrowdtaskError):
    status, code, message = 400, 1040, "unsupported API version"
