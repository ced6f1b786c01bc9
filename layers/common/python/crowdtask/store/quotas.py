"""Task-creation quotas: counters per account and minute / day, reserved in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from crowdtask.store import Contended, dynamo, keys


@dataclass(frozen=True)
class Window:
    name: str  # "minute" or "day"
    sort_key: str
    limit: int
    resets_at: datetime


def windows(now: datetime, per_minute: int, per_day: int) -> list[Window]:
    minute = now.replace(second=0, microsecond=0)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return [
        Window("minute", f"MIN#{minute:%Y-%m-%dT%H:%M}", per_minute, minute + timedelta(minutes=1)),
        Window("day", f"DAY#{day:%Y-%m-%d}", per_day, day + timedelta(days=1)),
    ]


class QuotaRefused(Exception):
    def __init__(self, window: Window, used: int):
        super().__init__(window.name)
        self.window = window
        self.used = used


def reserve(account_id: str, count: int, found: list[Window]) -> dict[str, int]:
    """Take `count` tasks from every window at once, or from none; returns what each has left.

    QuotaRefused names the window that is full; Contended when other reservations of the account
    kept cancelling this one (they are retried for a while first).
    """
    try:
        return dynamo.retry_contended(lambda: _reserve(account_id, count, found), attempts=20)
    except dynamo.TransactionConflict as exc:
        raise Contended(account_id) from exc


def _reserve(account_id: str, count: int, found: list[Window]) -> dict[str, int]:
    for window in found:
        if count > window.limit:
            raise QuotaRefused(window, 0)
    operations = []
    for window in found:
        expire = int((window.resets_at + timedelta(days=1)).timestamp())
        operations.append(
            dynamo.update_op(
                *keys.task_quota(account_id, window.sort_key),
                "ADD used :n SET expire_at = :exp",
                "attribute_not_exists(used) OR used <= :room",
                vals={":n": count, ":room": window.limit - count, ":exp": expire},
            )
        )
    try:
        dynamo.transact(operations)
    except dynamo.TransactionConflict as exc:
        for window, reason in zip(found, exc.reasons, strict=False):
            if reason == "ConditionalCheckFailed":
                raise QuotaRefused(window, used(account_id, window)) from exc
        raise
    return left(account_id, found)


def left(account_id: str, found: list[Window]) -> dict[str, int]:
    """What each window has left (one strongly consistent read of them all)."""
    wanted = {keys.task_quota(account_id, window.sort_key): window for window in found}
    items = dynamo.batch_get(wanted, consistent=True)
    return {
        window.name: window.limit - int(items.get(key, {}).get("used", 0)) for key, window in wanted.items()
    }


def used(account_id: str, window: Window) -> int:
    item = dynamo.get(*keys.task_quota(account_id, window.sort_key), consistent=True)
    return int(item.get("used", 0)) if item else 0


def give_back(account_id: str, count: int, found: list[Window]) -> None:
    """Return a reservation that created nothing (the request failed before any task was stored)."""
    if count <= 0:
        return
    for window in found:
        dynamo.update(
            *keys.task_quota(account_id, window.sort_key),
            "ADD used :n",
            condition="attribute_exists(used)",
            vals={":n": -count},
        )
