"""How many tasks an account may create: 100,000 a minute and 2,000,000 a day unless set otherwise.

A request takes its whole count from both windows at once or is refused with a 429 that says
which window is full and when it opens again; nothing is ever dropped silently. The reply
headers say what is left in each window.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from crowdtask import clock, errors, store
from crowdtask.store import accounts as account_store
from crowdtask.store import quotas as quota_store

DEFAULT_PER_MINUTE = 100_000
DEFAULT_PER_DAY = 2_000_000


@dataclass(frozen=True)
class Reservation:
    account_id: str
    count: int
    windows: list[quota_store.Window]
    left: dict[str, int]

    def headers(self) -> dict[str, str]:
        return quota_headers(self.windows, self.left)

    def give_back(self) -> None:
        if self.count:
            quota_store.give_back(self.account_id, self.count, self.windows)

    @contextmanager
    def given_back_on_failure(self) -> Iterator[None]:
        """Around the work the quota was taken for: if it fails, nothing was made and the quota returns."""
        try:
            yield
        except BaseException:
            self.give_back()
            raise


def quota_headers(windows: list[quota_store.Window], left: dict[str, int]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for window in windows:
        label = "Minute" if window.name == "minute" else "Day"
        headers[f"X-Task-Quota-{label}-Limit"] = str(window.limit)
        headers[f"X-Task-Quota-{label}-Remaining"] = str(max(0, left.get(window.name, window.limit)))
    return headers


def limits(account_id: str) -> tuple[int, int]:
    account = account_store.get(account_id) or {}
    return (
        int(account.get("taskQuotaPerMinute") or DEFAULT_PER_MINUTE),
        int(account.get("taskQuotaPerDay") or DEFAULT_PER_DAY),
    )


def reserve(account_id: str, count: int) -> Reservation:
    """Take `count` tasks from the account's quota; TooManyRequests (429, Retry-After) if it is full."""
    per_minute, per_day = limits(account_id)
    now = clock.now()
    windows = quota_store.windows(now, per_minute, per_day)
    if count <= 0:
        return Reservation(account_id, 0, windows, quota_store.left(account_id, windows))
    try:
        left, windows = quota_store.reserve(account_id, count, windows)
    except quota_store.QuotaRefused as refused:
        raise _refusal(refused, count) from None
    except store.Contended:
        raise errors.TooManyRequests(
            "Too many task uploads of this account at the same moment; retry.", headers={"Retry-After": "1"}
        ) from None
    return Reservation(account_id, count, windows, left)


def _refusal(refused: quota_store.QuotaRefused, count: int) -> errors.TooManyRequests:
    window = refused.window
    wait = max(1, math.ceil((window.resets_at - clock.now()).total_seconds()))
    left = max(0, window.limit - refused.used)
    if count > window.limit:
        wait = 0
        advice = f"a single request may create at most {window.limit} tasks; split it"
    else:
        advice = f"{left} are left in this {window.name}; retry after {wait} s or send fewer"
    headers = {"Retry-After": str(max(wait, 1)), **quota_headers([window], {window.name: left})}
    return errors.TooManyRequests(
        f"Creating {count} tasks exceeds the quota of {window.limit} tasks per {window.name}: {advice}.",
        headers=headers,
    )
