"""Response shapes common to every route: the error body, HAL links, OpenAPI response blocks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class FieldError(BaseModel):
    field: str = Field(description="path of the offending field, e.g. `components[0].option1`")
    message: str = Field(description="what is wrong with it")
    code: str = Field(description="machine-readable reason, e.g. `VALUE_REQUIRED`, `INVALID_VALUE`")


class ErrorBody(BaseModel):
    code: int = Field(description="stable numeric error code")
    message: str = Field(description="short error message")
    description: str = Field(description="a user-friendly description of what went wrong")
    errors: list[FieldError] | None = Field(default=None, description="per-field problems (422 only)")


_DESCRIPTIONS = {
    400: "Malformed request (bad JSON, unsupported X-API-Version, bad cursor)",
    401: "Missing, unknown or expired token, or wrong credentials",
    403: "The caller's role may not use this route",
    404: "No such resource in the caller's account",
    405: "The path exists but not with this method",
    409: "The resource is not in a state that allows this",
    413: "The request body is too large",
    422: "A field is missing or invalid; `errors` names each one",
    429: "Too many requests; see Retry-After",
}


def error_responses(*statuses: int) -> dict[int, dict[str, Any]]:
    """OpenAPI response blocks for the given error statuses, all with the one error body."""
    wanted = sorted({400, 413, 422, *statuses})
    return {
        status: {"description": _DESCRIPTIONS[status], "content": {"application/json": {"model": ErrorBody}}}
        for status in wanted
    }


def ok_response(
    model: type[BaseModel] | Any, description: str, status: int = 200
) -> dict[int, dict[str, Any]]:
    return {status: {"description": description, "content": {"application/json": {"model": model}}}}
