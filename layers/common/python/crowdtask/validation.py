"""Validation errors as the API reports them: pydantic / Powertools errors -> `{field, message, code}`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from pydantic import ValidationError

from crowdtask import errors

_SOURCES = {"body", "query", "path", "header", "cookie"}
_CODES = {
    "missing": "VALUE_REQUIRED",
    "json_invalid": "MALFORMED_JSON",
    "extra_forbidden": "UNKNOWN_FIELD",
    "union_tag_invalid": "UNKNOWN_TYPE",
    "union_tag_not_found": "VALUE_REQUIRED",
    "string_too_long": "TOO_LONG",
    "too_long": "TOO_LONG",
    "string_too_short": "TOO_SHORT",
    "too_short": "TOO_SHORT",
    "less_than_equal": "OUT_OF_RANGE",
    "greater_than_equal": "OUT_OF_RANGE",
    "less_than": "OUT_OF_RANGE",
    "greater_than": "OUT_OF_RANGE",
    "literal_error": "NOT_AN_OPTION",
    "enum": "NOT_AN_OPTION",
}
# Tags of discriminated unions, which pydantic puts into an error's location after the list index
# (`components, 0, BinaryChoice, option1`). The module defining a union registers its tags here;
# an error can only name a tag of a union whose module is loaded.
UNION_TAGS: set[str] = set()


def field_path(loc: Sequence[Any]) -> str:
    """('body', 'components', 0, 'BinaryChoice', 'option1') -> 'components[0].option1'."""
    parts = list(loc)
    if parts and parts[0] in _SOURCES:
        parts = parts[1:]
    path = ""
    previous: Any = None
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(previous, int) and part in UNION_TAGS:
            # pydantic puts the discriminator's value into the location of a tagged union
            pass
        elif part.startswith("function-") or (part.endswith("]") and "[" in part):
            pass
        else:
            path += f".{part}" if path else str(part)
        previous = part
    return path or "body"


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg") or error.get("type") or "invalid value")
    if error.get("type") == "missing":
        return "Field required"
    return message.removeprefix("Value error, ")


def field_errors(raw: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    problems: list[dict[str, str]] = []
    for error in raw:
        kind = str(error.get("type", ""))
        field = field_path(error.get("loc", ()))
        if kind == "union_tag_invalid":
            field += "." + str((error.get("ctx") or {}).get("discriminator", "type")).strip("'\"")
        within = (error.get("ctx") or {}).get("error")
        if isinstance(within, errors.RefusedWithin):
            if field == "body":
                field = within.path
            else:
                field += within.path if within.path.startswith("[") else f".{within.path}"
        problems.append(
            {
                "field": field,
                "message": _message(error),
                "code": _CODES.get(kind, "INVALID_VALUE"),
            }
        )
    return problems


def refusal(exc: ValidationError) -> errors.ValidationFailed:
    """The 422 for a model that did not validate, naming each field."""
    return errors.ValidationFailed(field_errors(cast("list[dict[str, Any]]", exc.errors())))
