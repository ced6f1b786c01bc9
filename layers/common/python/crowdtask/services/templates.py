"""Task templates: a campaign's task with {{placeholders}}, filled from an item's `input_values`.

The rule:
- a string that is exactly one placeholder, "{{image}}", becomes the input value itself,
  with its JSON type (a number stays a number, an object an object);
- placeholders inside a longer string, "Rate {{image}} now", are replaced by the value's
  text (strings as they are, anything else as compact JSON);
- keys are never templated; a placeholder without an input value is an error on
  `input_values.<name>` with code VALUE_REQUIRED (null counts as missing);
- input values that no placeholder uses are kept on the task as `input_values`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from crowdtask import errors

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]{0,99})\s*\}\}")
_WHOLE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_.-]{0,99})\s*\}\}$")


def placeholders(template: Any) -> set[str]:
    """Every placeholder name used anywhere in the template's values."""
    if isinstance(template, str):
        return set(PLACEHOLDER.findall(template))
    if isinstance(template, dict):
        return set().union(*(placeholders(v) for v in template.values())) if template else set()
    if isinstance(template, list):
        return set().union(*(placeholders(v) for v in template)) if template else set()
    return set()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)


def render(
    template: dict[str, Any], input_values: dict[str, Any], names: set[str] | None = None
) -> dict[str, Any]:
    """The template with every placeholder filled; ValidationFailed names each missing input.

    `names` are the template's placeholders when the caller knows them already (bulk uploads
    fill one template thousands of times).
    """
    used = placeholders(template) if names is None else names
    missing = sorted(name for name in used if input_values.get(name) is None)
    if missing:
        raise errors.ValidationFailed(
            [
                {
                    "field": f"input_values.{name}",
                    "message": "Value must be present and not equal to null",
                    "code": "VALUE_REQUIRED",
                }
                for name in missing
            ]
        )

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            whole = _WHOLE.match(value)
            if whole:
                return input_values[whole.group(1)]
            return PLACEHOLDER.sub(lambda m: _text(input_values[m.group(1)]), value)
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    rendered: dict[str, Any] = fill(template)
    return rendered
