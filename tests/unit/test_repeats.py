"""repeat / repeat_schedule: when a job opens again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crowdtask.services import repeats

FRIDAY = datetime(2026, 3, 13, 15, 30, tzinfo=UTC)


def test_after_completion_takes_its_seconds():
    repeat = repeats.parse("after_completion", "after_completion:90")
    assert repeat is not None and not repeat.calendar and repeat.after_seconds == 90
    assert repeats.parse("after_completion", None).after_seconds == 0
    assert repeats.parse(None, None) is None


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("daily", datetime(2026, 3, 14, tzinfo=UTC)),
        ("weekly:mon;wed", datetime(2026, 3, 16, tzinfo=UTC)),
        ("weekly:5", datetime(2026, 3, 20, tzinfo=UTC)),  # 5 = Friday: the next one, not today
        ("monthly:1;13", datetime(2026, 4, 1, tzinfo=UTC)),
        ("monthly:31", datetime(2026, 3, 31, tzinfo=UTC)),
        ("yearly:02-29", datetime(2028, 2, 29, tzinfo=UTC)),
        ("yearly:03-14", datetime(2026, 3, 14, tzinfo=UTC)),
    ],
)
def test_calendar_repeats_open_at_midnight_utc_of_the_next_day_that_matches(schedule, expected):
    repeat = repeats.parse(schedule.partition(":")[0], schedule)
    assert repeat is not None and repeat.calendar
    assert repeats.next_occurrence(repeat, FRIDAY) == expected


def test_a_schedule_without_days_repeats_on_the_days_of_publication():
    published = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday, the 5th
    weekly, monthly = repeats.parse("weekly", None), repeats.parse("monthly", None)
    assert repeats.next_occurrence(weekly, FRIDAY, published) == datetime(2026, 3, 16, tzinfo=UTC)
    assert repeats.next_occurrence(monthly, FRIDAY, published) == datetime(2026, 4, 5, tzinfo=UTC)
