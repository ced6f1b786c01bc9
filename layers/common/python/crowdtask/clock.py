"""The one source of "now", so that time-based rules can be tested with a frozen clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """Current UTC time (timezone-aware)."""
    return _now()


def set_clock(fn: Callable[[], datetime] | None) -> None:
    """Replace the clock (tests); None restores the real one."""
    global _now
    _now = fn if fn is not None else (lambda: datetime.now(UTC))


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with seconds precision, as the API shows timestamps: 2017-08-02T13:58:24."""
    # isoformat, not strftime: strftime writes year 912 as "912", which sorts after "2026".
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def iso_precise(moment: datetime) -> str:
    """UTC ISO 8601 with microseconds: sortable, for keys."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(value: str | None) -> datetime | None:
    """A stored UTC time (`2026-03-14T03:14:15`, offset optional) as an aware datetime."""
    if not value:
        return None
    return datetime.fromisoformat(value + "+00:00") if "+" not in value else datetime.fromisoformat(value)
