"""Durations as campaigns write them: "10 sec", "10 min", "4 hours", "2 days"."""

import re
from typing import Annotated

from pydantic import AfterValidator, Field

_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}  # fmt: skip
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$")
MAX_SECONDS = 366 * 86400
# What the document promises: whole numbers that stay inside MAX_SECONDS in every unit. seconds()
# takes more (decimals, capitals, larger counts of the smaller units, any Unicode space), which no
# pattern says briefly.
DOCUMENTED_PATTERN = (
    r"^[ \t\n\v\f\r]*("
    r"[1-9][0-9]{0,6} ?(s|sec|secs|second|seconds)"
    r"|[1-9][0-9]{0,4} ?(m|min|mins|minute|minutes)"
    r"|[1-9][0-9]{0,2} ?(h|hr|hrs|hour|hours)"
    r"|([1-9][0-9]?|[12][0-9]{2}|3[0-5][0-9]|36[0-6]) ?(d|day|days)"
    r")[ \t\n\v\f\r]*$"
)


def seconds(text: str) -> int:
    """'10 min' -> 600. Raises ValueError naming the accepted forms."""
    match = _PATTERN.match(text or "")
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _UNITS:
        raise ValueError('a duration such as "30 sec", "10 min", "4 hours" or "2 days"')
    total = float(match.group(1)) * _UNITS[unit]
    if total <= 0 or total > MAX_SECONDS:
        raise ValueError(f"must be more than 0 and at most {MAX_SECONDS // 86400} days")
    return round(total)


def _check(text: str) -> str:
    seconds(text)
    return text.strip()


Duration = Annotated[
    str,
    AfterValidator(_check),
    Field(
        max_length=40,
        description='a duration: "30 sec", "10 min", "4 hours", "2 days"',
        json_schema_extra={"pattern": DOCUMENTED_PATTERN},
    ),
]
