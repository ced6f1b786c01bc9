"""Timestamps as requests write them and the API shows them: UTC, to the second."""

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from crowdtask import clock


def utc_timestamp(value: str) -> str:
    """'2018-01-01T10:00' (UTC when no offset is given) -> '2018-01-01T10:00:00'."""
    try:
        moment = datetime.fromisoformat(value.strip().upper().replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return clock.iso(moment)
    except (ValueError, OverflowError) as exc:
        # OverflowError: an offset that moves 0001-01-01 or 9999-12-31 out of the calendar.
        raise ValueError("an ISO 8601 date and time such as 2018-01-01T10:00") from exc


# Declared as an RFC 3339 date-time, which every parse above accepts (no offset is read as UTC).
Timestamp = Annotated[
    str, AfterValidator(utc_timestamp), Field(max_length=40, json_schema_extra={"format": "date-time"})
]


def calendar_day(value: object) -> object:
    """A day as the document's `format: date` (RFC 3339 full-date) writes one: YYYY-MM-DD, nothing else
    (not a number read as a Unix time, nor the other ISO 8601 forms Python would read)."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return value
    raise ValueError("a day written YYYY-MM-DD, such as 2020-12-22")
