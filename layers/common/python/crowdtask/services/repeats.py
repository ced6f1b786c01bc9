"""`repeat` / `repeat_schedule` of tasks: when a job opens again (pure date arithmetic, no I/O).

- `after_completion[:<seconds>]`: every approved result opens one more slot that many seconds
  later (0 when no seconds are given).
- `daily`, `weekly:<days>`, `monthly:<day numbers>`, `yearly:<mm-dd>`: the job opens again at
  00:00 UTC of each such day. Without a schedule, weekly/monthly/yearly repeat on the weekday,
  day of the month or date of publication.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
CALENDAR_KINDS = frozenset({"daily", "weekly", "monthly", "yearly"})


@dataclass(frozen=True)
class Repeat:
    kind: str  # after_completion, daily, weekly, monthly, yearly
    arguments: tuple[str, ...]

    @property
    def calendar(self) -> bool:
        return self.kind in CALENDAR_KINDS

    @property
    def after_seconds(self) -> int:
        return int(self.arguments[0]) if self.kind == "after_completion" and self.arguments else 0

    @property
    def schedule(self) -> str:
        return self.kind + (":" + ";".join(self.arguments) if self.arguments else "")


def parse(repeat: str | None, schedule: str | None) -> Repeat | None:
    """The repeat of a task from its `repeat` and `repeat_schedule` (validated when the task was saved)."""
    if not repeat and not schedule:
        return None
    kind, _, spec = (schedule or repeat or "").partition(":")
    return Repeat(kind=kind, arguments=tuple(s.strip() for s in spec.split(";") if s.strip()))


def _weekday(text: str) -> int:
    return _WEEKDAYS[text.lower()] if text.lower() in _WEEKDAYS else int(text) - 1


def _matches(repeat: Repeat, day: datetime, anchor: datetime) -> bool:
    if repeat.kind == "daily":
        return True
    if repeat.kind == "weekly":
        days = {_weekday(a) for a in repeat.arguments} or {anchor.weekday()}
        return day.weekday() in days
    if repeat.kind == "monthly":
        numbers = {int(a) for a in repeat.arguments} or {anchor.day}
        return day.day in numbers
    if repeat.kind == "yearly":
        dates = set(repeat.arguments) or {anchor.strftime("%m-%d")}
        return day.strftime("%m-%d") in dates
    raise ValueError(f"not a calendar repeat: {repeat.kind}")


def next_occurrence(repeat: Repeat, after: datetime, anchor: datetime | None = None) -> datetime:
    """The first 00:00 UTC strictly after `after` on which the job opens again.

    `anchor` (the publication time) stands in for a schedule without days. Days that some
    months or years lack (the 31st, 02-29) are simply skipped there.
    """
    anchor = anchor or after
    day = after.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    for _ in range(366 * 8 + 1):  # a 02-29 schedule waits up to 8 years (1900-style century gaps aside)
        if _matches(repeat, day, anchor):
            return day
        day += timedelta(days=1)
    raise ValueError(f"{repeat.schedule} never occurs")
