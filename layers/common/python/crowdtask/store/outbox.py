"""The event outbox: each event is an item written in the same transaction as the change it reports.

The table's stream carries every new outbox item to the events forwarder (functions/events), which
puts it on the EventBridge bus; a webhook delivery reads the same items. An event that was committed
is therefore never lost, and a crash after the commit only delays it.

Item contract (stream consumers depend on it; do not change it):
  pk "EVENT#<id>", sk "EVENT"    one partition per event: ids are random after their millisecond
  record_type  "event"           what the stream filters match
  id           "evt_<ULID>"      stable: made once when the item is written (or derived, see below)
  type         "result.submitted", ...  (crowdtask.events catalogue)
  occurred_at  ISO-8601 UTC with milliseconds and "Z"
  account_id   the requester account the event belongs to
  campaign_id  only when the event concerns a campaign
  data         the payload: ids and states, never secrets
  expire_at    epoch seconds, 30 days on (the table's TTL attribute)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from crowdtask import clock, ids
from crowdtask.numbers import plain_numbers
from crowdtask.store import dynamo

RECORD_TYPE = "event"
ID_PREFIX = "evt_"
KEEP_FOR = timedelta(days=30)
SORT_KEY = "EVENT"

# What a store write that reads before it writes asks its caller for: the events (outbox items) to
# commit with the change, given the item as read.
Announce = Callable[[Mapping[str, Any]], Sequence[dict[str, Any]]]


def silent(_item: Mapping[str, Any]) -> Sequence[dict[str, Any]]:
    """Announce nothing."""
    return ()


_lock = threading.Lock()
_last: tuple[int, int] = (0, 0)


def _monotonic_ulid(millis: int) -> str:
    """A ULID that sorts after every one this process made before, even within one millisecond (or
    under a clock that stands still): events written one after another keep their order by id."""
    global _last
    with _lock:
        last_millis, last_random = _last
        if millis <= last_millis:
            millis, randomness = last_millis, last_random + 1
        else:
            randomness = int.from_bytes(os.urandom(10), "big") >> 1  # room to count up within a millisecond
        _last = (millis, randomness)
    return ids.from_parts(millis, randomness)


def new_event_id(moment: datetime | None = None) -> str:
    """A fresh event id: "evt_" + a time-sortable id."""
    millis = int((moment or clock.now()).timestamp() * 1000)
    return ID_PREFIX + _monotonic_ulid(millis)


def derived_event_id(name: str, moment: datetime) -> str:
    """The id of an event a write repeated by design writes again: same `name` and moment, same id,
    so a redelivered message rewrites its event instead of adding a second one."""
    return ID_PREFIX + ids.named_id(int(moment.timestamp() * 1000), name)


def event_key(event_id: str) -> tuple[str, str]:
    return f"EVENT#{event_id}", SORT_KEY


def _occurred_at(moment: datetime) -> str:
    return clock.iso_precise(moment)[:23] + "Z"


def event_record(
    type_: str,
    data: Mapping[str, Any],
    account_id: str,
    campaign_id: str | None = None,
    *,
    event_id: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The outbox item of one event, as stored."""
    moment = at or clock.now()
    event_id = event_id or new_event_id(moment)
    pk, sk = event_key(event_id)
    return {
        "pk": pk,
        "sk": sk,
        "record_type": RECORD_TYPE,
        "id": event_id,
        "type": type_,
        "occurred_at": _occurred_at(moment),
        "account_id": account_id,
        "campaign_id": campaign_id,
        "data": {k: v for k, v in data.items() if v is not None},
        "expire_at": int((moment + KEEP_FOR).timestamp()),
    }


def event_item(
    type_: str,
    data: Mapping[str, Any],
    account_id: str,
    campaign_id: str | None = None,
    *,
    event_id: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The transaction item (a Put) writing this event beside the change it reports.

    Unconditional: a new id is unique, and a derived id (`event_id`) is meant to be rewritten."""
    return dynamo.put_op(event_record(type_, data, account_id, campaign_id, event_id=event_id, at=at))


def write(items: list[dict[str, Any]]) -> None:
    """Write events on their own, for a change that is itself one of them (nothing else to commit)."""
    for start in range(0, len(items), 100):
        dynamo.transact(items[start : start + 100])


def read_event(event_id: str) -> dict[str, Any] | None:
    """An event by id, while it is kept (30 days)."""
    item = dynamo.get(*event_key(event_id), consistent=True)
    return item if item and item.get("record_type") == RECORD_TYPE else None


def is_event(item: Mapping[str, Any]) -> bool:
    return item.get("record_type") == RECORD_TYPE and str(item.get("pk", "")).startswith("EVENT#")


def bus_detail(item: Mapping[str, Any]) -> dict[str, Any]:
    """What the bus carries for an outbox item: {id, type, timestamp, account, campaign?, data}."""
    detail: dict[str, Any] = {
        "id": item["id"],
        "type": item["type"],
        "timestamp": item["occurred_at"],
        "account": item["account_id"],
    }
    if item.get("campaign_id"):
        detail["campaign"] = item["campaign_id"]
    detail["data"] = plain_numbers(item.get("data") or {})
    return detail


def from_stream_image(image: Mapping[str, Any]) -> dict[str, Any]:
    """The item a stream record's NewImage (DynamoDB's wire format) holds."""
    return dynamo.from_item(image)


def event_in_stream_record(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The outbox event a table stream record (as Lambda hands it) carries in its NewImage; None for
    any other record (another item, a removal). The one reading of an outbox record that every stream
    consumer (the events forwarder, the webhook fan-out) shares."""
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    item = from_stream_image(image)
    return item if is_event(item) else None
