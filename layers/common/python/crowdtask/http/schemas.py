"""Response shapes common to every route: the error body, HAL links, OpenAPI response blocks."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel

from crowdtask.config import writing_openapi

if TYPE_CHECKING:  # pragma: no cover
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

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


# Set while the OpenAPI document is written (scripts/openapi.py). A deployed function never builds
# its document (the docs function serves the committed one), so it does not import the models that
# only document its answers: `responses("tasks:TaskPage", ...)` names crowdtask.models.tasks.TaskPage.
ModelRef = type[BaseModel] | str


def resolve(ref: ModelRef) -> Any:
    """The model a reference names: a class as it is, "<models module>:Class" imported now."""
    if not isinstance(ref, str):
        return ref
    module, colon, name = ref.partition(":")
    if not colon or not name:
        raise ValueError(f"a model reference reads '<models module>:Class', not {ref!r}")
    return getattr(importlib.import_module(f"crowdtask.models.{module}"), name)


def model_of(body: ModelRef | None) -> Any:
    """The model a documented answer names; a name is imported only while documenting."""
    if body is None or (isinstance(body, str) and not writing_openapi()):
        return None
    return resolve(body)


def responses(
    body: ModelRef | None, description: str, *errors: int, status: int = 200
) -> dict[int, OpenAPIResponse]:
    """A route's documented answers: its success body, then the shared error body for each status."""
    documented: dict[int, dict[str, Any]] = {status: {"description": description}}
    model = model_of(body)
    if model is not None:
        documented[status]["content"] = {"application/json": {"model": model}}
    error_body = model_of("errors:ErrorBody")
    for code in sorted({400, 413, 422, *errors}):
        documented[code] = {"description": _DESCRIPTIONS[code]}
        if error_body is not None:
            documented[code]["content"] = {"application/json": {"model": error_body}}
    return cast("dict[int, OpenAPIResponse]", documented)
