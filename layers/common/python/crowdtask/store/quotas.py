"""Task-creation quotas: one item per account counts the current minute's and day's tasks.

Both windows live in the same item, so a reservation takes from both at once, or from neither,
with one conditional UpdateItem that also returns what is left: no transaction and no read
back. The first reservation of a new minute (or day) moves the item's windows on, conditioned on
the windows it read: a new minute restarts the minute's count and leaves the day's to DynamoDB (a
reservation of the old minute may still add to it), a new day restarts both. Then it counts as
any other. Windows never move back: a container whose clock is behind counts into the later
minute (clocks are NTP-synchronised; one far ahead would hold the account's windows ahead with it).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crowdtask.store import Contended, dynamo, keys

_ATTEMPTS = 20  # tries (each a write, and a read if it did not take) before one gives up (Contended)


@dataclass(frozen=True)
class Window:
    name: str  # "minute" or "day"
    label: str  # the minute (yyyy-mm-ddThh:mm) or the day (yyyy-mm-dd) it counts
    limit: int
    resets_at: datetime


def windows(now: datetime, per_minute: int, per_day: int) -> list[Window]:
    """The minute's window, then the day's (UTC)."""
    minute = now.replace(second=0, microsecond=0)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return [
        Window("minute", f"{minute:%Y-%m-%dT%H:%M}", per_minute, minute + timedelta(minutes=1)),
        Window("day", f"{day:%Y-%m-%d}", per_day, day + timedelta(days=1)),
    ]


class QuotaRefused(Exception):
    def __init__(self, window: Window, used: int):
        super().__init__(window.name)
        self.window = window
        self.used = used


# the item: {minute, minute_used, day, day_used, expire_at}
_NAMES = {"#m": "minute", "#mu": "minute_used", "#d": "day", "#du": "day_used"}


def reserve(account_id: str, count: int, found: list[Window]) -> tuple[dict[str, int], list[Window]]:
    """Take `count` tasks from every window at once, or from none; returns what each has left, and
    the windows it took them from (`found`, or the item's later ones: give them back there).

    QuotaRefused names the window that is full; Contended when other reservations of the account
    kept moving the windows first (only at the turn of a minute, and retried for a while).
    """
    minute, day = found
    for window in found:
        if count > window.limit:
            raise QuotaRefused(window, 0)
    pk, sk = keys.task_quota(account_id)
    for _ in range(_ATTEMPTS):
        try:
            item = dynamo.update(
                pk,
                sk,
                "ADD #mu :n, #du :n",
                condition="#m = :m AND #d = :d AND #mu <= :mroom AND #du <= :droom",
                names=_NAMES,
                vals={
                    ":n": count,
                    ":m": minute.label,
                    ":d": day.label,
                    ":mroom": minute.limit - count,
                    ":droom": day.limit - count,
                },
            )
            return _left(item, found), found
        except dynamo.ConditionFailed:
            current = dynamo.get(pk, sk, consistent=True)
        if current is not None and current.get("minute") == minute.label and current.get("day") == day.label:
            for window in found:  # the windows are current: one of them is full
                used = int(current.get(f"{window.name}_used", 0))
                if used + count > window.limit:
                    raise QuotaRefused(window, used)
            continue  # counts given back meanwhile: room again
        minute, day = _latest(minute, current, "minute"), _latest(day, current, "day")
        found = [minute, day]
        if current is not None and current.get("minute") == minute.label:
            continue  # another container's clock is ahead: count into its minute
        _move_windows(pk, sk, current, minute, day)
    raise Contended(account_id)


def _latest(window: Window, current: dict[str, Any] | None, name: str) -> Window:
    """The window, or the item's if it is later (another container's clock ran ahead): never back."""
    stored = (current or {}).get(name)
    if not stored or stored <= window.label:
        return window
    step = timedelta(minutes=1) if name == "minute" else timedelta(days=1)
    start = datetime.fromisoformat(stored).replace(tzinfo=window.resets_at.tzinfo)
    return Window(window.name, stored, window.limit, start + step)


def _move_windows(pk: str, sk: str, current: dict[str, Any] | None, minute: Window, day: Window) -> None:
    """Start the new minute at zero, and the new day if it is one, if the windows are still as read.

    Within a day the day's count is left as it stands, never written from what was read: a
    reservation of the old minute may add to it meanwhile. Lost to another reservation that moved
    the windows first, nothing is written: the caller reads again.
    """
    values: dict[str, Any] = {":m": minute.label, ":zero": 0}
    if current is not None and current.get("day") == day.label:
        expression = "SET #m = :m, #mu = :zero"
        condition = "#m = :was_m AND #d = :d"
        values.update({":d": day.label, ":was_m": current.get("minute", "")})
        names = {"#m": "minute", "#mu": "minute_used", "#d": "day"}
    else:
        expression = "SET #m = :m, #mu = :zero, #d = :d, #du = :zero, expire_at = :exp"
        names = _NAMES
        values.update({":d": day.label, ":exp": int((day.resets_at + timedelta(days=1)).timestamp())})
        if current is None:
            condition = "attribute_not_exists(#d)"
        else:
            condition = "#d = :was_d"
            values[":was_d"] = current.get("day", "")
    with contextlib.suppress(dynamo.ConditionFailed):
        dynamo.update(pk, sk, expression, condition=condition, names=names, vals=values)


def _left(item: dict[str, Any] | None, found: list[Window]) -> dict[str, int]:
    """What each window has left, by the item (a window it does not count yet is whole)."""
    left = {}
    for window in found:
        counting = item is not None and item.get(window.name) == window.label
        used = int(item.get(f"{window.name}_used", 0)) if counting and item is not None else 0
        left[window.name] = window.limit - used
    return left


def left(account_id: str, found: list[Window]) -> dict[str, int]:
    """What each window has left (one strongly consistent read)."""
    return _left(dynamo.get(*keys.task_quota(account_id), consistent=True), found)


def give_back(account_id: str, count: int, found: list[Window]) -> None:
    """Return a reservation that created nothing (the request failed before any task was stored):
    to both windows if they are still current, to the day alone if only the minute has turned."""
    if count <= 0:
        return
    minute, day = found
    pk, sk = keys.task_quota(account_id)
    vals = {":n": -count, ":m": minute.label, ":d": day.label}
    with contextlib.suppress(dynamo.ConditionFailed):
        dynamo.update(pk, sk, "ADD #mu :n, #du :n", condition="#m = :m AND #d = :d", names=_NAMES, vals=vals)
        return
    del vals[":m"]
    with contextlib.suppress(dynamo.ConditionFailed):  # the day has turned as well: nothing to give back to
        day_names = {"#d": "day", "#du": "day_used"}
        dynamo.update(pk, sk, "ADD #du :n", condition="#d = :d", names=day_names, vals=vals)
