"""Timestamps as requests write them: UTC, to the second, a four-digit year, refused when off the calendar."""

from __future__ import annotations

import pytest

from crowdtask.models.times import utc_timestamp


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("2018-01-01T10:00", "2018-01-01T10:00:00"),
        ("2018-01-01t10:00:00z", "2018-01-01T10:00:00"),
        ("0912-08-31T22:34:54.441+00:57", "0912-08-31T21:37:54"),
    ],
)
def test_a_timestamp_is_shown_in_utc_with_a_four_digit_year(written, shown):
    assert utc_timestamp(written) == shown


@pytest.mark.parametrize("written", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "soon"])
def test_a_timestamp_outside_the_calendar_is_a_validation_error_not_a_server_error(written):
    with pytest.raises(ValueError, match="ISO 8601"):
        utc_timestamp(written)
