"""Response shapes common to every route: the error body, HAL links, OpenAPI response blocks."""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, Field

if TYPE_CHECKING:  # pragma: no cover
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

# OpenAPI security requirements of the routes (schemes declared in scripts/openapi.py).
TOKEN_AUTH: list[dict[str, list[str]]] = [{"authToken": []}]
ADMIN_AUTH: list[dict[str, list[str]]] = [{"adminKey": []}]
WORKSTREAM_KEY_AUTH: list[dict[str, list[str]]] = [{"workstreamKey": []}]


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
    415: "The request body is not of a media type this route takes",
    422: "A field is missing or invalid; `errors` names each one",
    429: "Too many requests; see Retry-After",
}


# Set while the OpenAPI document is written (scripts/openapi.py). A deployed function never builds
# its document (the docs function serves the committed one), so it does not import the models that
# only document its answers: `responses("tasks:TaskPage", ...)` names crowdtask.models.tasks.TaskPage.
DOCUMENTING = "CROWDTASK_WRITING_OPENAPI"
ModelRef = type[BaseModel] | str


def model_of(body: ModelRef | None) -> Any:
    """The model a reference names: a class as it is; "<models module>:Class" only while documenting."""
    if body is None or not isinstance(body, str):
        return body
    if not os.environ.get(DOCUMENTING):
        return None
    module, _, name = body.partition(":")
    return getattr(importlib.import_module(f"crowdtask.models.{module}"), name)


def responses(
    body: ModelRef | None, description: str, *errors: int, status: int = 200
) -> dict[int, OpenAPIResponse]:
    """A route's documented answers: its success body, then the shared error body for each status."""
    documented: dict[int, dict[str, Any]] = {status: {"description": description}}
    model = model_of(body)
    if model is not None:
        documented[status]["content"] = {"application/json": {"model": model}}
    for code in sorted({400, 413, 422, *errors}):
        documented[code] = {
            "description": _DESCRIPTIONS[code],
            "content": {"application/json": {"model": ErrorBody}},
        }
    return cast("dict[int, OpenAPIResponse]", documented)
