"""Task templates: a campaign's task with {{placeholders}}, filled from an item's `input_values`.

The rule:
- a string that is exactly one placeholder, "{{image}}", becomes the input value itself,
  with its JSON type (a number stays a number, an object an object);
- placeholders inside a longer string, "Rate {{image}} now", are replaced by the value's
  text (strings as they are, anything else as compact JSON);
- keys are never templated; a placeholder without an input value is an error on
  `input_values.<name>` with code VALUE_REQUIRED (null counts as missing);
- input values that no placeholder uses are kept on the task as `input_values`.

A template is bounded when it is saved (MAX_TEMPLATE_BYTES, MAX_PLACEHOLDERS), and what filling it
would make is bounded before it is made (rendered_size), so no input can amplify it unboundedly.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from crowdtask import errors

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]{0,99})\s*\}\}")
_WHOLE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_.-]{0,99})\s*\}\}$")
MAX_TEMPLATE_BYTES = 100_000  # as JSON
MAX_PLACEHOLDERS = 1_000  # occurrences in all of its values


def template_size(template: Any) -> int:
    return len(json.dumps(template, separators=(",", ":"), ensure_ascii=False, default=str).encode())


def occurrences(template: Any) -> Counter[str]:
    """How often each placeholder occurs in the template's values."""
    if isinstance(template, str):
        return Counter(PLACEHOLDER.findall(template))
    found: Counter[str] = Counter()
    for value in (
        template.values() if isinstance(template, dict) else template if isinstance(template, list) else ()
    ):
        found.update(occurrences(value))
    return found


def check_bounds(template: Any) -> None:
    """ValueError unless the template is within MAX_TEMPLATE_BYTES and MAX_PLACEHOLDERS."""
    size = template_size(template)
    if size > MAX_TEMPLATE_BYTES:
        raise ValueError(f"the template has {size} bytes as JSON; at most {MAX_TEMPLATE_BYTES}")
    used = sum(occurrences(template).values())
    if used > MAX_PLACEHOLDERS:
        raise ValueError(f"the template has {used} placeholders; at most {MAX_PLACEHOLDERS}")


def rendered_size(template_bytes: int, used: Counter[str], input_values: dict[str, Any]) -> int:
    """At most how many bytes (as JSON) the filled template has: known before filling it."""
    added = sum(count * len(_text(input_values.get(name)).encode()) * 2 for name, count in used.items())
    return template_bytes + added  # x2: a value's JSON escaping at most doubles its text


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
