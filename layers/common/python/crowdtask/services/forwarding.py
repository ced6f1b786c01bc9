"""Forwarding the outbox: an event item from the table's stream goes on the EventBridge bus."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crowdtask.store import events, outbox

NotPublished = events.NotPublished


def forward(record: Mapping[str, Any]) -> str | None:
    """Put the outbox event a table stream record carries on the bus; its event id, or None when the
    record carries no outbox event (nothing to forward). NotPublished when the bus refused it."""
    item = outbox.event_in_stream_record(record)
    if item is None:
        return None
    events.put_on_bus(outbox.bus_detail(item))
    return str(item["id"])
