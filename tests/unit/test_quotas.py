"""Task quotas: one item counts the current minute and day; windows turn, never go back."""

from __future__ import annotations

from typing import Any

import pytest

from crowdtask import errors
from crowdtask.services import quotas
from crowdtask.store import dynamo, keys
from crowdtask.store import quotas as quota_store
from tests.conftest import FrozenClock
from tests.support.infra import dynamodb_calls


def _limits(account_id: str, per_minute: int, per_day: int) -> None:
    dynamo.update(
        *keys.account(account_id),
        "SET taskQuotaPerMinute = :m, taskQuotaPerDay = :d",
        vals={":m": per_minute, ":d": per_day},
    )


def _stored(account_id: str) -> dict[str, Any]:
    return dynamo.get(*keys.task_quota(account_id), consistent=True) or {}


def test_a_reservation_in_the_current_windows_is_one_write_that_says_what_is_left(requester):
    _limits(requester.id, 10, 100)
    quotas.reserve(requester.id, 2)  # the windows start
    with dynamodb_calls() as made:
        reservation = quotas.reserve(requester.id, 3)
    assert made == ["GetItem", "UpdateItem"]  # the account's limits, then the reservation
    assert reservation.left == {"minute": 5, "day": 95}
    assert reservation.headers()["X-Task-Quota-Minute-Remaining"] == "5"


def test_the_minute_turns_and_the_day_goes_on_counting(requester, frozen_clock: FrozenClock):
    _limits(requester.id, 10, 15)
    quotas.reserve(requester.id, 8)
    frozen_clock.advance(seconds=60)
    assert quotas.reserve(requester.id, 0).left == {"minute": 10, "day": 7}  # read, nothing moved
    assert quotas.reserve(requester.id, 6).left == {"minute": 4, "day": 1}
    assert _stored(requester.id)["minute"] == "2026-03-14T03:15"
    with pytest.raises(errors.TooManyRequests) as refused:
        quotas.reserve(requester.id, 2)
    assert "per day" in refused.value.description
    assert refused.value.headers["X-Task-Quota-Day-Remaining"] == "1"


def test_the_day_turns_and_both_windows_start_again(requester, frozen_clock: FrozenClock):
    _limits(requester.id, 10, 15)
    quotas.reserve(requester.id, 9)
    frozen_clock.advance(days=1)
    assert quotas.reserve(requester.id, 10).left == {"minute": 0, "day": 5}
    assert _stored(requester.id)["day"] == "2026-03-15"


def test_a_full_minute_refuses_whole_and_says_when_it_opens(requester):
    _limits(requester.id, 10, 100)
    quotas.reserve(requester.id, 7)
    with pytest.raises(errors.TooManyRequests) as refused:
        quotas.reserve(requester.id, 4)
    assert refused.value.headers["Retry-After"] == "45"  # the clock stands at 03:14:15
    assert refused.value.headers["X-Task-Quota-Minute-Remaining"] == "3"
    assert _stored(requester.id)["minute_used"] == 7  # nothing was taken


def test_a_container_whose_clock_is_behind_counts_into_the_later_minute(requester, frozen_clock: FrozenClock):
    _limits(requester.id, 10, 100)
    frozen_clock.advance(seconds=50)  # 03:15:05
    quotas.reserve(requester.id, 6)
    frozen_clock.advance(seconds=-10)  # another container: 03:14:55
    with pytest.raises(errors.TooManyRequests):
        quotas.reserve(requester.id, 5)  # 6 + 5 > 10 in the minute that is counting
    assert quotas.reserve(requester.id, 4).left == {"minute": 0, "day": 90}
    assert _stored(requester.id)["minute"] == "2026-03-14T03:15"  # never moved back


def test_a_quota_given_back_returns_to_the_windows_still_counting(requester, frozen_clock: FrozenClock):
    _limits(requester.id, 10, 100)
    first = quotas.reserve(requester.id, 4)
    first.give_back()
    assert quotas.reserve(requester.id, 0).left == {"minute": 10, "day": 100}
    second = quotas.reserve(requester.id, 4)
    frozen_clock.advance(seconds=60)
    quotas.reserve(requester.id, 1)  # the minute has turned
    second.give_back()  # to the day alone: the new minute never had them
    assert quotas.reserve(requester.id, 0).left == {"minute": 9, "day": 99}
    third = quotas.reserve(requester.id, 2)
    frozen_clock.advance(days=1)
    quotas.reserve(requester.id, 1)  # the day has turned
    third.give_back()  # its day has gone: nothing to give back to
    assert (_stored(requester.id)["day"], _stored(requester.id)["day_used"]) == ("2026-03-15", 1)


def test_windows_that_never_move_for_it_end_in_a_429_to_retry(requester, monkeypatch):
    quotas.reserve(requester.id, 1)
    monkeypatch.setattr(quota_store, "_move_windows", lambda *args: None)  # always lost to another
    quota_store_windows = quota_store.windows
    monkeypatch.setattr(
        quota_store,
        "windows",
        lambda now, m, d: quota_store_windows(now.replace(year=now.year + 1), m, d),
    )
    with pytest.raises(errors.TooManyRequests) as refused:
        quotas.reserve(requester.id, 1)
    assert refused.value.headers["Retry-After"] == "1"
    assert "at the same moment" in refused.value.description


def test_a_reservation_of_the_old_minute_landing_while_the_minute_turns_still_counts_in_the_day(
    requester, frozen_clock, monkeypatch
):
    _limits(requester.id, 100, 100)
    quotas.reserve(requester.id, 10)
    old = quota_store.windows(frozen_clock(), 100, 100)
    frozen_clock.advance(seconds=60)
    move = quota_store._move_windows

    def raced(*args: Any) -> None:  # another container, still in the old minute, counts first
        quota_store.reserve(requester.id, 5, old)
        move(*args)

    monkeypatch.setattr(quota_store, "_move_windows", raced)
    assert quotas.reserve(requester.id, 1).left == {"minute": 99, "day": 84}
    assert (_stored(requester.id)["minute_used"], _stored(requester.id)["day_used"]) == (1, 16)


def test_a_container_behind_gives_back_to_the_minute_it_counted_into(requester, frozen_clock):
    _limits(requester.id, 10, 100)
    frozen_clock.advance(seconds=50)  # 03:15:05
    quotas.reserve(requester.id, 1)
    frozen_clock.advance(seconds=-10)  # another container: 03:14:55
    reservation = quotas.reserve(requester.id, 4)
    assert reservation.headers()["X-Task-Quota-Minute-Remaining"] == "5"
    reservation.give_back()
    assert (_stored(requester.id)["minute_used"], _stored(requester.id)["day_used"]) == (1, 1)
