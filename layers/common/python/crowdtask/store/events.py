"""Puts forwarded outbox events on the EventBridge bus (`source` crowdtask, `detail-type` the event type).

Services never publish: they write events to the outbox (store/outbox.py) with their changes, and
the events forwarder (functions/events) brings each one here from the table's stream.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from crowdtask.config import settings
from crowdtask.store import aws

SOURCE = "crowdtask"


@lru_cache(maxsize=1)
def _client() -> Any:
    return aws.client("events")


class NotPublished(Exception):
    """EventBridge refused the event (or failed): the stream record is retried."""


def put_on_bus(detail: dict[str, Any]) -> None:
    """Put one forwarded outbox event on the bus (`detail-type` its type); NotPublished if refused."""
    response = _client().put_events(
        Entries=[
            {
                "Source": SOURCE,
                "DetailType": detail["type"],
                "Detail": json.dumps(detail, default=str),
                "EventBusName": settings().event_bus_name,
            }
        ]
    )
    if response.get("FailedEntryCount"):
        entry = (response.get("Entries") or [{}])[0]
        raise NotPublished(f"event {detail['id']}: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}")
