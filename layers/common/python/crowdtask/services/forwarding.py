"""Forwarding the outbox: an event item from the table's stream goes on the EventBridge bus."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crowdtask.store import events, outbox

NotPublished = events.NotPublished


def forward(image: Mapping[str, Any]) -> str | None:
    """Put the outbox item a stream record's NewImage holds on the bus; its event id, or None when
    the image is no outbox event (nothing to forward). NotPublished when the bus refused it."""
    item = outbox.from_stream_image(image)
    if not outbox.is_event(item):
        return None
    events.put_on_bus(outbox.bus_detail(item))
    return str(item["id"])
