"""Response shapes common to every route: security requirements and the OpenAPI response blocks."""

from __future__ import annotations

from typing import Any, cast

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

from crowdtask.models.errors import ErrorBody

# OpenAPI security requirements of the routes (schemes declared in scripts/openapi.py).
TOKEN_AUTH: list[dict[str, list[str]]] = [{"authToken": []}]
ADMIN_AUTH: list[dict[str, list[str]]] = [{"adminKey": []}]
WORKSTREAM_KEY_AUTH: list[dict[str, list[str]]] = [{"workstreamKey": []}]

_DESCRIPTIONS = {
    400: "Malformed request (bad JSON, unsupported X-API-Version, bad cursor)",
    401: "Missing, unknown or expired token, or wrong credentials",
    403: "The caller's role may not use this route",
    404: "No such resource in the caller's account",
    405: "The path exists but not with this method",
    409: "The resource is not in a state that allows this",
    413: "The request body is too large",
    415: "The request body is not of a media type this route takes",
    422: "A field is missing or invalid; `errors` names each one",
    429: "Too many requests; see Retry-After",
}


def responses(
    body: type[BaseModel] | Any | None, description: str, *errors: int, status: int = 200
) -> dict[int, OpenAPIResponse]:
    """A route's documented answers: its success body (a model, or a union of models), then the
    shared error body for each status."""
    # No body: an empty `content` (left out, Powertools would document the handler's return type).
    documented: dict[int, dict[str, Any]] = {status: {"description": description, "content": {}}}
    if body is not None:
        documented[status]["content"] = {"application/json": {"model": body}}
    for code in sorted({400, 413, 422, *errors}):
        documented[code] = {
            "description": _DESCRIPTIONS[code],
            "content": {"application/json": {"model": ErrorBody}},
        }
    return cast("dict[int, OpenAPIResponse]", documented)


def error_response_block(status: int, error_schema_ref: str) -> dict[str, Any]:
    """The documented answer of a refusal added to the merged document (not declared by a route)."""
    return {
        "description": _DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": error_schema_ref}}},
    }
